//! The few asyncio functions the bridges call, looked up once.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ENSURE_FUTURE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn asyncio_function<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("asyncio")?.getattr(name)?.unbind())
    })
    .map(|f| f.bind(py).clone())
}

/// `asyncio.get_running_loop()` (`RuntimeError` when none runs).
pub(crate) fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    asyncio_function(py, &GET_RUNNING_LOOP, "get_running_loop")?.call0()
}

/// `asyncio.ensure_future(awaitable)`, with a coroutine handed straight to
/// the running loop's `create_task` (what `ensure_future` does with one,
/// without its Python frames).
pub(crate) fn ensure_future<'py>(awaitable: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = awaitable.py();
    // SAFETY: a type check on a live object.
    if unsafe { pyo3::ffi::PyCoro_CheckExact(awaitable.as_ptr()) } != 0 {
        return running_loop(py)?.call_method1(pyo3::intern!(py, "create_task"), (awaitable,));
    }
    asyncio_function(py, &ENSURE_FUTURE, "ensure_future")?.call1((awaitable,))
}
