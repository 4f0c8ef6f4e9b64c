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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::{self, ThreadId};

use pyo3::exceptions::PyRuntimeError;
use pyo3::PyResult;

pub(crate) struct ThreadBound<T> {
    owner: Mutex<ThreadId>,
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
            owner: Mutex::new(thread::current().id()),
            busy: AtomicBool::new(false),
            value: ManuallyDrop::new(value),
        }
    }

    /// The value, for the owner thread (or a thread taking over an idle
    /// value); `RuntimeError` while another thread runs it.
    pub(crate) fn get(&self) -> PyResult<&T> {
        let me = thread::current().id();
        let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
        if *owner != me {
            if self.busy.load(Ordering::Acquire) {
                return Err(PyRuntimeError::new_err(
                    "this corio loop is running in another thread: from other threads use \
                     call_soon_threadsafe (or run_coroutine_threadsafe)",
                ));
            }
            *owner = me;
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
        let owner = *self.owner.get_mut().unwrap_or_else(|e| e.into_inner());
        if thread::current().id() == owner {
            // SAFETY: dropped once, here, on the owner thread.
            unsafe { ManuallyDrop::drop(&mut self.value) };
        }
    }
}
