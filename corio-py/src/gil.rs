//! Releasing the GIL around the loop's blocking wait, and running Python's
//! signal handlers when a signal interrupted it.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use corio::runtime::WaitHooks;
use pyo3::ffi;
use pyo3::prelude::*;

thread_local! {
    /// The thread state saved while the GIL is released for a wait.
    static SAVED: Cell<*mut ffi::PyThreadState> = const { Cell::new(std::ptr::null_mut()) };
    /// An exception raised by a signal handler during the wait (Ctrl-C's
    /// `KeyboardInterrupt`), for the loop to raise once the iteration ends.
    static PENDING: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// Releases the GIL while the loop thread sleeps in `epoll_wait`.
pub(crate) struct ReleaseGil;

impl WaitHooks for ReleaseGil {
    fn before_wait(&self, _timeout: Option<Duration>) {
        // SAFETY: the loop thread holds the GIL here (the loop runs only
        // from Python calls); PyEval_SaveThread releases it and returns the
        // thread state, which `after_wait` restores on this same thread.
        let state = unsafe { ffi::PyEval_SaveThread() };
        SAVED.with(|s| s.set(state));
    }

    fn after_wait(&self, interrupted: bool) {
        let state = SAVED.with(|s| s.replace(std::ptr::null_mut()));
        if !state.is_null() {
            // SAFETY: `state` came from PyEval_SaveThread on this thread in
            // `before_wait`; restoring it retakes the GIL.
            unsafe { ffi::PyEval_RestoreThread(state) };
        }
        if interrupted {
            Python::attach(|py| {
                if let Err(e) = py.check_signals() {
                    set_pending(e);
                }
            });
        }
    }
}

/// Set (on any thread) whenever an exception is left in a `PENDING`:
/// the loop checks this one flag after every iteration instead of its
/// thread-local.
static ANY_PENDING: AtomicBool = AtomicBool::new(false);

/// Takes the exception a signal handler or a callback left for the loop.
pub(crate) fn take_pending() -> Option<PyErr> {
    if !ANY_PENDING.load(Ordering::Relaxed) {
        return None;
    }
    PENDING.with(|p| p.borrow_mut().take())
}

/// Leaves `err` for the loop to raise after this iteration (the first wins).
pub(crate) fn set_pending(err: PyErr) {
    ANY_PENDING.store(true, Ordering::Relaxed);
    PENDING.with(|p| {
        p.borrow_mut().get_or_insert(err);
    });
}

/// An error a loop task (a transport's readiness task) could not hand to
/// anyone: `KeyboardInterrupt`/`SystemExit` stop the loop, anything else
/// is reported as unraisable (it means a bug in corio's Python half).
pub(crate) fn report_from_task(py: Python<'_>, err: PyErr) {
    if must_propagate(py, &err) {
        set_pending(err);
    } else {
        err.write_unraisable(py, None);
    }
}

/// `SystemExit` and `KeyboardInterrupt`: the exceptions asyncio lets stop
/// the loop instead of reporting them to the exception handler.
pub(crate) fn must_propagate(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<pyo3::exceptions::PySystemExit>(py)
        || err.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py)
}
