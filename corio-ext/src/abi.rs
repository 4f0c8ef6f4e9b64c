//! The C interface a running corio loop hands out (version 1), shared by
//! the loop (`corio._corio`) and every extension built against this crate.
//! Only `#[repr(C)]` data and `extern "C"` functions cross the boundary:
//! the two sides may be built by different compilers, each with its own
//! copy of every Rust crate.
//!
//! A *task* is the extension's: an opaque pointer and a [`TaskVTable`];
//! corio polls it on its loop, as one of its own tasks, and drops it when
//! it finishes or is cancelled. A *waker* is corio's: an opaque pointer
//! (borrowed during a poll, owned once cloned) used only through the
//! `waker_*` functions of [`CorioApi`].

use std::ffi::{c_int, c_void, CStr};

use pyo3::ffi::PyObject;

/// The version this crate speaks; a loop with another one is refused.
pub const API_VERSION: u32 = 1;

/// The capsule's name: `corio._corio._C_API`.
pub const CAPSULE_NAME: &CStr = c"corio._corio._C_API";

/// An extension's task, polled by corio's loop.
#[repr(C)]
#[derive(Debug)]
pub struct TaskVTable {
    /// Polls the task once with a borrowed corio waker (valid during the
    /// call only). Returns 1 when the task finished, 0 when it waits. Must
    /// not unwind.
    pub poll: unsafe extern "C" fn(task: *mut c_void, waker: *const c_void) -> c_int,
    /// Drops the task (finished, or cancelled: its destructors run).
    /// Must not unwind.
    pub drop: unsafe extern "C" fn(task: *mut c_void),
}

/// What the loop offers, in the capsule `corio._corio._C_API`.
#[repr(C)]
#[derive(Debug)]
pub struct CorioApi {
    /// [`API_VERSION`] of the loop's side.
    pub version: u32,
    /// `size_of::<CorioApi>()` on the loop's side (later versions only
    /// append).
    pub size: u32,
    /// A new asyncio future (`loop.create_future()`) of the corio loop
    /// running on the calling thread, which holds the GIL: a new
    /// reference, or null with a Python exception set (`RuntimeError` when
    /// no corio loop runs here).
    pub create_future: unsafe extern "C" fn() -> *mut PyObject,
    /// Spawns `task` on the corio loop running on the calling thread, which
    /// holds the GIL. The task's first poll runs before `spawn` returns (an
    /// eager start). Returns a task handle, or null with a Python exception
    /// set (no corio loop runs here); on null the task was dropped.
    pub spawn: unsafe extern "C" fn(task: *mut c_void, vtable: *const TaskVTable) -> *mut c_void,
    /// Cancels the task: it is dropped at its next scheduling point,
    /// without being polled again. The handle stays valid.
    pub cancel: unsafe extern "C" fn(handle: *mut c_void),
    /// Frees the handle; the task runs on.
    pub release: unsafe extern "C" fn(handle: *mut c_void),
    /// An owned copy of a (borrowed or owned) waker.
    pub waker_clone: unsafe extern "C" fn(waker: *const c_void) -> *const c_void,
    /// Wakes and frees an owned waker.
    pub waker_wake: unsafe extern "C" fn(waker: *const c_void),
    /// Wakes a (borrowed or owned) waker.
    pub waker_wake_by_ref: unsafe extern "C" fn(waker: *const c_void),
    /// Frees an owned waker.
    pub waker_drop: unsafe extern "C" fn(waker: *const c_void),
}
