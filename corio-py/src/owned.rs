//! `ThreadBound<T>`: a value one thread at a time may touch, inside a
//! Python object any thread may hold (and the garbage collector may drop
//! anywhere).
//!
//! asyncio lets a loop be made on one thread and run on another; what it
//! forbids is two threads using it at once. So the owner is the thread
//! that last used the value while it was idle: a thread may take it over
//! when the loop is not running (the GIL serializes those calls), and
//! gets a `RuntimeError` while another thread runs it.

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use pyo3::exceptions::PyRuntimeError;
use pyo3::PyResult;

thread_local! {
    /// Its address names the current thread (no lock, no allocation).
    static MARK: u8 = const { 0 };
}

/// A number no other live thread has: the address of its `MARK`. A thread
/// that exits frees its address for a later thread, which may then find
/// itself the owner of an idle value: a takeover that `get` allows anyway.
fn thread_mark() -> usize {
    MARK.with(|m| m as *const u8 as usize)
}

pub(crate) struct ThreadBound<T> {
    owner: AtomicUsize,
    /// Set while the owner runs the loop (it may release the GIL then).
    busy: AtomicBool,
    value: ManuallyDrop<T>,
}

// SAFETY: the value is reached only through `get`, which admits one thread
// at a time: the owner, or, while the value is idle (`busy` unset), a new
// owner. Python calls are serialized by the GIL, which is released only
// inside `enter_busy` sections, during which no other thread is admitted.
// The value is dropped only by its owner (`Drop` leaks it elsewhere).
unsafe impl<T> Send for ThreadBound<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for ThreadBound<T> {}

impl<T> ThreadBound<T> {
    pub(crate) fn new(value: T) -> ThreadBound<T> {
        ThreadBound {
            owner: AtomicUsize::new(thread_mark()),
            busy: AtomicBool::new(false),
            value: ManuallyDrop::new(value),
        }
    }

    /// The value, for the owner thread (or a thread taking over an idle
    /// value); `RuntimeError` while another thread runs it.
    pub(crate) fn get(&self) -> PyResult<&T> {
        let me = thread_mark();
        if self.owner.load(Ordering::Acquire) != me {
            if self.busy.load(Ordering::Acquire) {
                return Err(PyRuntimeError::new_err(
                    "this corio loop is running in another thread: from other threads use \
                     call_soon_threadsafe (or run_coroutine_threadsafe)",
                ));
            }
            // Calls from Python hold the GIL: no two threads get here at once.
            self.owner.store(me, Ordering::Release);
        }
        Ok(&self.value)
    }

    /// Marks the value busy (the loop runs) until the guard drops.
    pub(crate) fn enter_busy(&self) -> PyResult<BusyGuard<'_>> {
        if self.busy.swap(true, Ordering::AcqRel) {
            return Err(PyRuntimeError::new_err(
                "This event loop is already running",
            ));
        }
        Ok(BusyGuard(&self.busy))
    }
}

/// Clears `busy` when the loop's iteration ends.
pub(crate) struct BusyGuard<'a>(&'a AtomicBool);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<T> Drop for ThreadBound<T> {
    fn drop(&mut self) {
        if *self.owner.get_mut() == thread_mark() {
            // SAFETY: dropped once, here, on the owner thread.
            unsafe { ManuallyDrop::drop(&mut self.value) };
        }
    }
}
