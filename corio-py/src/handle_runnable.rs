//! A Python handle (asyncio's `Handle` or `TimerHandle`) as an entry of
//! corio's ready queue: the queue holds the object's own reference, no
//! wrapper is allocated.

use std::cell::RefCell;
use std::collections::HashMap;

use corio::runtime::{RawRunnable, RawRunnableVTable, TimerId};
use pyo3::ffi;
use pyo3::prelude::*;

static VTABLE: RawRunnableVTable = RawRunnableVTable::new(run_handle, drop_handle);

static TIMER_VTABLE: RawRunnableVTable =
    RawRunnableVTable::new(run_timer_handle, drop_timer_handle);

thread_local! {
    /// The pending timers of this thread's loops, by handle address, so
    /// that `TimerHandle.cancel()` can drop its timer at once. An entry
    /// lives exactly as long as its timer's queue entry.
    static TIMERS: RefCell<HashMap<usize, TimerId>> = RefCell::new(HashMap::new());
}

/// Records the timer of the handle at `key`.
pub(crate) fn remember_timer(key: usize, id: TimerId) {
    TIMERS.with(|t| t.borrow_mut().insert(key, id));
}

/// Forgets (and returns) the timer of the handle at `key`.
pub(crate) fn forget_timer(key: usize) -> Option<TimerId> {
    TIMERS.with(|t| t.borrow_mut().remove(&key))
}

/// As [`runnable`], for a `TimerHandle`: forgets its timer when it runs or
/// is dropped.
pub(crate) fn timer_runnable(handle: Py<PyAny>) -> RawRunnable {
    let data = handle.into_ptr() as *const ();
    // SAFETY: as in `runnable`.
    unsafe { RawRunnable::new(data, &TIMER_VTABLE) }
}

unsafe fn run_timer_handle(data: *const ()) {
    forget_timer(data as usize);
    // SAFETY: the same contract as `run_handle`.
    unsafe { run_handle(data) }
}

unsafe fn drop_timer_handle(data: *const ()) {
    forget_timer(data as usize);
    // SAFETY: the same contract as `drop_handle`.
    unsafe { drop_handle(data) }
}

/// A runnable that calls `handle._run()` unless the handle was cancelled.
pub(crate) fn runnable(handle: Py<PyAny>) -> RawRunnable {
    let data = handle.into_ptr() as *const ();
    // SAFETY: `data` is one owned reference to a Python object; `run_handle`
    // and `drop_handle` each release exactly that reference, with the GIL,
    // on the loop thread (the only thread that runs or drops the loop's
    // queue entries).
    unsafe { RawRunnable::new(data, &VTABLE) }
}

unsafe fn run_handle(data: *const ()) {
    Python::attach(|py| {
        // SAFETY: `data` is the owned reference `runnable` stored.
        let handle = unsafe { Bound::from_owned_ptr(py, data as *mut ffi::PyObject) };
        if let Err(err) = run(py, &handle) {
            // Only BaseExceptions that are not Exceptions (KeyboardInterrupt,
            // SystemExit) get here: asyncio's `Handle._run` reports the rest
            // to the exception handler. They stop the loop and propagate.
            crate::gil::set_pending(err);
        }
    });
}

thread_local! {
    /// Set while a loop in debug mode runs an iteration on this thread.
    static DEBUG: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Restores the debug flag an iteration replaced.
pub(crate) struct DebugScope(bool);

impl Drop for DebugScope {
    fn drop(&mut self) {
        DEBUG.with(|d| d.set(self.0));
    }
}

impl DebugScope {
    /// Switches debug mode for the rest of the scope (the flag changed
    /// while the loop runs); the value before the scope is still restored.
    pub(crate) fn set(&self, debug: bool) {
        DEBUG.with(|d| d.set(debug));
    }
}

/// Runs handles in debug mode (timed, slow ones reported by the loop)
/// while the returned guard lives.
pub(crate) fn debug_scope(debug: bool) -> DebugScope {
    DebugScope(DEBUG.with(|d| d.replace(debug)))
}

fn run(py: Python<'_>, handle: &Bound<'_, PyAny>) -> PyResult<()> {
    if handle
        .getattr(pyo3::intern!(py, "_cancelled"))?
        .is_truthy()?
    {
        return Ok(());
    }
    if DEBUG.with(|d| d.get()) {
        // asyncio's debug mode: time the callback; the loop logs a slow one.
        let started = std::time::Instant::now();
        handle.call_method0(pyo3::intern!(py, "_run"))?;
        let took = started.elapsed().as_secs_f64();
        let the_loop = handle.getattr(pyo3::intern!(py, "_loop"))?;
        let limit: f64 = the_loop
            .getattr(pyo3::intern!(py, "slow_callback_duration"))?
            .extract()?;
        if took >= limit {
            the_loop.call_method1(pyo3::intern!(py, "_log_slow_callback"), (handle, took))?;
        }
        return Ok(());
    }
    handle.call_method0(pyo3::intern!(py, "_run"))?;
    Ok(())
}

unsafe fn drop_handle(data: *const ()) {
    Python::attach(|py| {
        // SAFETY: as in `run_handle`: the one owned reference, released.
        drop(unsafe { Bound::from_owned_ptr(py, data as *mut ffi::PyObject) });
    });
}
