//! The `block_on` future's waker: the loop's id in the waker's data word,
//! so cloning and dropping it cost nothing (no allocation, no reference
//! count: a timeout or a channel that stores a clone of it paid two atomic
//! operations for an `Arc` before).
//!
//! Waking sets the loop's `main_woken` flag (in [`Shared`]); on the loop's
//! own thread that is all, from another thread the loop is found by id in
//! the global table (as a task's wake from another thread finds it) and
//! woken from its wait. A waker that outlives its loop finds no loop and
//! does nothing; one kept from an earlier `block_on` of the same loop can
//! only wake the current one spuriously, which a future must allow anyway.

use std::task::{RawWaker, RawWakerVTable, Waker};

use super::{context, shared};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);

/// The waker of loop `loop_id`'s `block_on` future.
pub(crate) fn main_waker(loop_id: u64) -> Waker {
    let raw = RawWaker::new(loop_id as usize as *const (), &VTABLE);
    // SAFETY: the data word is only ever read back as an integer (never
    // dereferenced), every vtable function is thread-safe (the loop's flag
    // is atomic, the global table behind a mutex), a clone behaves as the
    // original, and there is nothing to free.
    unsafe { Waker::from_raw(raw) }
}

fn loop_id(data: *const ()) -> u64 {
    data as usize as u64
}

/// # Safety
/// Called through [`VTABLE`] only; `data` is a loop id.
unsafe fn clone(data: *const ()) -> RawWaker {
    RawWaker::new(data, &VTABLE)
}

/// # Safety
/// As [`clone`].
unsafe fn wake(data: *const ()) {
    // SAFETY: as this function's own contract.
    unsafe { wake_by_ref(data) }
}

/// # Safety
/// As [`clone`].
unsafe fn wake_by_ref(data: *const ()) {
    let id = loop_id(data);
    if context::with_loop(id, |core| core.shared.wake_main()).is_some() {
        return;
    }
    if let Some(shared) = shared::lookup(id) {
        shared.wake_main();
        shared.notify();
    }
}

/// # Safety
/// As [`clone`].
unsafe fn drop(_data: *const ()) {}
