//! A Rust future as a Python awaitable: `future_into_py`.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use pyo3::prelude::*;
use pyo3::{intern, IntoPyObjectExt};

use crate::abi::TaskVTable;
use crate::api::api;
use crate::panic::panic_error;
use crate::waker;

/// Runs `fut` as a task on the running corio loop and returns an asyncio
/// future that its output completes: `Ok` becomes the result, `Err` the
/// exception, a panic a `corio.RustPanic` carrying the panic's message.
/// The task starts at once (its first poll runs inside this call, as
/// asyncio's eager tasks do), so a future that is ready at once gives an
/// asyncio future already done. Cancelling the asyncio future (a
/// `wait_for` timeout, a cancelled task awaiting it) cancels the Rust
/// task: its future is dropped within a few turns of the loop (the done
/// callback's turn, then the task's), destructors and all. Nothing crosses threads: the task is
/// polled by the loop's thread, which completes the asyncio future itself.
///
/// Call it with the GIL held, from code running on a corio loop (an
/// `async def`'s body, a callback); with no corio loop running it raises
/// `RuntimeError`.
pub fn future_into_py<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + 'static,
    T: for<'a> IntoPyObject<'a> + 'static,
{
    let api = api(py)?;
    // SAFETY: the GIL is held; a new reference or null with an exception.
    let py_future = unsafe { Bound::from_owned_ptr_or_err(py, (api.create_future)())? };
    let converted = async move {
        let value = fut.await?;
        Python::attach(|py| value.into_py_any(py))
    };
    let completed = Rc::new(Cell::new(false));
    let task = Box::new(ExtTask {
        fut: converted,
        py_future: py_future.clone().unbind(),
        completed: completed.clone(),
    });
    let vtable = Vt::of(&task);
    let raw = Box::into_raw(task) as *mut c_void;
    // SAFETY: `raw` is the `ExtTask` the vtable is for; corio owns it from
    // here (and drops it through the vtable, even on failure).
    let handle = unsafe { (api.spawn)(raw, vtable) };
    if handle.is_null() {
        return Err(PyErr::fetch(py));
    }
    let on_done = Bound::new(
        py,
        ReleaseOnDone {
            handle: Cell::new(handle),
            completed,
        },
    )?;
    py_future.call_method1(intern!(py, "add_done_callback"), (on_done,))?;
    Ok(py_future)
}

/// The task corio polls: the future and the asyncio future it completes.
struct ExtTask<F> {
    fut: F,
    py_future: Py<PyAny>,
    /// Set once this task completed the asyncio future (so a done callback
    /// need not ask the future whether it was cancelled).
    completed: Rc<Cell<bool>>,
}

/// The vtable of `ExtTask<F>`.
struct Vt<F>(PhantomData<F>);

impl<F: Future<Output = PyResult<Py<PyAny>>>> Vt<F> {
    const VTABLE: TaskVTable = TaskVTable {
        poll: poll_task::<F>,
        drop: drop_task::<F>,
    };

    /// The vtable for a task of this type (the argument only names it).
    fn of(_task: &ExtTask<F>) -> &'static TaskVTable {
        &Self::VTABLE
    }
}

/// # Safety
///
/// `task` is a live `ExtTask<F>` that was never moved since it was boxed;
/// `waker` is the corio waker of this poll.
unsafe extern "C" fn poll_task<F: Future<Output = PyResult<Py<PyAny>>>>(
    task: *mut c_void,
    waker: *const c_void,
) -> c_int {
    // SAFETY: see the function's contract.
    let task = unsafe { &mut *(task as *mut ExtTask<F>) };
    // SAFETY: the waker is this poll's, used only during it.
    let waker = unsafe { waker::borrowed(waker) };
    let mut cx = Context::from_waker(&waker);
    // SAFETY: the task is boxed and never moved: its future is pinned.
    let fut = unsafe { Pin::new_unchecked(&mut task.fut) };
    let result = match catch_unwind(AssertUnwindSafe(|| fut.poll(&mut cx))) {
        Ok(Poll::Pending) => return 0,
        Ok(Poll::Ready(result)) => result,
        Err(payload) => Err(Python::attach(|py| panic_error(py, payload))),
    };
    task.completed.set(true);
    // Completing runs Python code; nothing may unwind into corio.
    let completed = catch_unwind(AssertUnwindSafe(|| {
        Python::attach(|py| complete(py, task.py_future.bind(py), result))
    }));
    if completed.is_err() {
        eprintln!("corio-ext: completing an asyncio future panicked");
    }
    1
}

/// # Safety
///
/// `task` is a live `ExtTask<F>`, dropped once.
unsafe extern "C" fn drop_task<F>(task: *mut c_void) {
    // SAFETY: see the function's contract.
    let task = unsafe { Box::from_raw(task as *mut ExtTask<F>) };
    // Dropping the future runs user destructors (and Python's, for the
    // references it holds): the GIL is held, and nothing may unwind.
    if catch_unwind(AssertUnwindSafe(move || drop(task))).is_err() {
        eprintln!("corio-ext: dropping a Rust future panicked");
    }
}

/// Sets the asyncio future's result or exception, unless it was cancelled.
fn complete(py: Python<'_>, py_future: &Bound<'_, PyAny>, result: PyResult<Py<PyAny>>) {
    let done = py_future
        .call_method0(intern!(py, "done"))
        .and_then(|d| d.is_truthy());
    if !matches!(done, Ok(false)) {
        return;
    }
    let set = match result {
        Ok(value) => py_future.call_method1(intern!(py, "set_result"), (value,)),
        Err(err) => py_future.call_method1(intern!(py, "set_exception"), (err.into_value(py),)),
    };
    if let Err(err) = set {
        err.write_unraisable(py, Some(py_future));
    }
}

/// The asyncio future's done callback: a cancelled future cancels its Rust
/// task; either way the task's handle is let go.
#[pyclass(unsendable)]
struct ReleaseOnDone {
    handle: Cell<*mut c_void>,
    completed: Rc<Cell<bool>>,
}

#[pymethods]
impl ReleaseOnDone {
    fn __call__(&self, py: Python<'_>, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        let handle = self.handle.replace(std::ptr::null_mut());
        if handle.is_null() {
            return Ok(());
        }
        let api = api(py)?;
        if !self.completed.get() && fut.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
            // SAFETY: a handle from `spawn`, not released yet.
            unsafe { (api.cancel)(handle) };
        }
        // SAFETY: as above; released once.
        unsafe { (api.release)(handle) };
        Ok(())
    }
}

impl Drop for ReleaseOnDone {
    fn drop(&mut self) {
        let handle = self.handle.replace(std::ptr::null_mut());
        if handle.is_null() {
            return;
        }
        // Never called back (the future was abandoned): let go of the
        // handle; the task runs on until its loop closes.
        let api = Python::attach(|py| api(py).ok());
        if let Some(api) = api {
            // SAFETY: a handle from `spawn`, not released yet.
            unsafe { (api.release)(handle) };
        }
    }
}
