//! `RemoteLoop`: the part of a loop any thread may use (asyncio's
//! `call_soon_threadsafe`, `stop` from a signal or another thread).

use corio::LoopHandle;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// A thread-safe handle on a [`CoreLoop`](crate::core_loop::CoreLoop).
#[pyclass(module = "corio._corio", frozen)]
pub struct RemoteLoop {
    pub(crate) handle: LoopHandle,
}

#[pymethods]
impl RemoteLoop {
    /// Runs `handle._run()` on the loop thread at its next iteration, waking
    /// the loop if it sleeps. Raises `RuntimeError` if the loop is closed.
    fn call_soon(&self, handle: Py<PyAny>) -> PyResult<()> {
        self.handle
            .call_soon_threadsafe(move || {
                crate::handle_runnable::runnable(handle).run();
            })
            .map_err(|_| PyRuntimeError::new_err("Event loop is closed"))
    }

    /// Wakes the loop if it sleeps (asyncio's `_write_to_self`).
    fn wake(&self) {
        let _ = self.handle.call_soon_threadsafe(|| {});
    }

    /// Whether the loop was closed.
    fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }
}
