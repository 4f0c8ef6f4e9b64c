//! A `std::task::Waker` over a corio waker reached through the C
//! interface: cloning, waking and dropping go through `CorioApi`'s
//! `waker_*` functions.

use std::ffi::c_void;
use std::mem::ManuallyDrop;
use std::task::{RawWaker, RawWakerVTable, Waker};

use crate::api::loaded;

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a corio waker (borrowed for a poll, or owned).
    let owned = unsafe { (loaded().waker_clone)(data as *const c_void) };
    RawWaker::new(owned as *const (), &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: `data` is an owned corio waker (a borrowed one is never
    // woken by value: the `Waker` over it is never owned by anyone).
    unsafe { (loaded().waker_wake)(data as *const c_void) }
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: `data` is a live corio waker.
    unsafe { (loaded().waker_wake_by_ref)(data as *const c_void) }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: `data` is an owned corio waker (see `wake`).
    unsafe { (loaded().waker_drop)(data as *const c_void) }
}

/// A `Waker` borrowing the corio waker `borrowed` for one poll: never
/// dropped or woken by value, only cloned (into an owned one) or woken by
/// reference.
///
/// # Safety
///
/// `borrowed` must be the waker corio passed to this poll, and the result
/// must not outlive the poll.
pub(crate) unsafe fn borrowed(borrowed: *const c_void) -> ManuallyDrop<Waker> {
    // SAFETY: the vtable's functions keep RawWaker's contract over corio's
    // waker functions; ManuallyDrop keeps the borrowed one from being freed.
    ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(borrowed as *const (), &VTABLE)) })
}
