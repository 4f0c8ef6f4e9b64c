//! The C interface (`corio_ext::abi`, version 1) through which separately
//! built extension modules run Rust futures on this loop: the capsule
//! `corio._corio._C_API`. An extension's task becomes one of the loop's
//! tasks (polled on the loop's thread, with the GIL held, as every task
//! here), started eagerly: its first poll runs inside `spawn`, as asyncio's
//! eager tasks start, so a future ready at once costs no turn of the loop.
//! The wakers it gets are the loop's own, behind C functions.

use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use corio::Task;
use corio_ext::abi::{CorioApi, TaskVTable, API_VERSION, CAPSULE_NAME};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::core_loop::running_core_loop;

static API: CorioApi = CorioApi {
    version: API_VERSION,
    size: std::mem::size_of::<CorioApi>() as u32,
    create_future,
    spawn,
    cancel,
    release,
    waker_clone,
    waker_wake,
    waker_wake_by_ref,
    waker_drop,
};

/// The capsule `corio._corio._C_API`, pointing at the static interface.
pub(crate) fn capsule(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: the pointer and the name are statics; the capsule has no
    // destructor (nothing to free).
    let ptr = unsafe {
        pyo3::ffi::PyCapsule_New(
            &API as *const CorioApi as *mut c_void,
            CAPSULE_NAME.as_ptr(),
            None,
        )
    };
    // SAFETY: a new reference, or null with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(py, ptr) }
}

/// An extension's task, as a future of this loop. Owns the task: dropping
/// it drops the task through its vtable.
struct ForeignTask {
    task: *mut c_void,
    vtable: *const TaskVTable,
}

impl Future for ForeignTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let waker = cx.waker() as *const Waker as *const c_void;
        // SAFETY: the task and vtable came together from `spawn`; the
        // waker is borrowed for this call, as the interface says.
        match unsafe { ((*self.vtable).poll)(self.task, waker) } {
            0 => Poll::Pending,
            _ => Poll::Ready(()),
        }
    }
}

impl Drop for ForeignTask {
    fn drop(&mut self) {
        // SAFETY: dropped once, here.
        unsafe { ((*self.vtable).drop)(self.task) }
    }
}

const NO_LOOP: &str = "a Rust future of a corio extension needs a corio loop running: \
                       run the program with corio.run(...) or corio.install()";

/// # Safety
///
/// The GIL is held.
unsafe extern "C" fn create_future() -> *mut pyo3::ffi::PyObject {
    let created = catch_unwind(|| {
        // SAFETY: the caller holds the GIL (the interface's contract).
        let py = unsafe { Python::assume_attached() };
        let result = match running_core_loop(py) {
            Some(core) => core.call_method0(pyo3::intern!(py, "create_future")),
            None => Err(PyRuntimeError::new_err(NO_LOOP)),
        };
        result.map(Bound::into_ptr).unwrap_or_else(|err| {
            err.restore(py);
            std::ptr::null_mut()
        })
    });
    created.unwrap_or(std::ptr::null_mut())
}

/// # Safety
///
/// The GIL is held; `task` and `vtable` go together (ownership of `task`
/// passes here).
unsafe extern "C" fn spawn(task: *mut c_void, vtable: *const TaskVTable) -> *mut c_void {
    let foreign = ForeignTask { task, vtable };
    let spawned = catch_unwind(AssertUnwindSafe(move || {
        // SAFETY: the caller holds the GIL (the interface's contract).
        let py = unsafe { Python::assume_attached() };
        let result = match running_core_loop(py) {
            Some(core) => core
                .get()
                .spawn_eager(foreign)
                .map(|t| Box::into_raw(Box::new(t))),
            None => Err(PyRuntimeError::new_err(NO_LOOP)),
        };
        result.unwrap_or_else(|err| {
            err.restore(py);
            std::ptr::null_mut()
        })
    }));
    spawned.unwrap_or(std::ptr::null_mut()) as *mut c_void
}

/// # Safety
///
/// `handle` came from `spawn` and was not released; loop thread.
unsafe extern "C" fn cancel(handle: *mut c_void) {
    // SAFETY: see the function's contract.
    let task = unsafe { &*(handle as *const Task<()>) };
    task.cancel();
}

/// # Safety
///
/// As `cancel`; the handle is not used again.
unsafe extern "C" fn release(handle: *mut c_void) {
    // SAFETY: see the function's contract; dropping a handle detaches.
    drop(unsafe { Box::from_raw(handle as *mut Task<()>) });
}

/// # Safety
///
/// `waker` is a live waker of this loop (borrowed or owned).
unsafe extern "C" fn waker_clone(waker: *const c_void) -> *const c_void {
    // SAFETY: see the function's contract.
    let waker = unsafe { &*(waker as *const Waker) };
    Box::into_raw(Box::new(waker.clone())) as *const c_void
}

/// # Safety
///
/// `waker` is an owned waker (from `waker_clone`), not used again.
unsafe extern "C" fn waker_wake(waker: *const c_void) {
    // SAFETY: see the function's contract.
    unsafe { Box::from_raw(waker as *mut Waker) }.wake();
}

/// # Safety
///
/// `waker` is a live waker of this loop (borrowed or owned).
unsafe extern "C" fn waker_wake_by_ref(waker: *const c_void) {
    // SAFETY: see the function's contract.
    unsafe { &*(waker as *const Waker) }.wake_by_ref();
}

/// # Safety
///
/// `waker` is an owned waker (from `waker_clone`), not used again.
unsafe extern "C" fn waker_drop(waker: *const c_void) {
    // SAFETY: see the function's contract.
    drop(unsafe { Box::from_raw(waker as *mut Waker) });
}
