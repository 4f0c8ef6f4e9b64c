//! Finding the running loop's interface: the capsule, imported once and
//! checked for its version.

use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::exceptions::{PyImportError, PyRuntimeError};
use pyo3::prelude::*;

use crate::abi::{CorioApi, API_VERSION, CAPSULE_NAME};

/// The capsule's contents once imported (the capsule lives as long as
/// `corio._corio`, which Python never unloads). Wakers, which any thread
/// may use, read it without the GIL.
static API: AtomicPtr<CorioApi> = AtomicPtr::new(std::ptr::null_mut());

/// corio's interface, imported from `corio._corio` on first use.
pub(crate) fn api(py: Python<'_>) -> PyResult<&'static CorioApi> {
    let ptr = API.load(Ordering::Acquire);
    if !ptr.is_null() {
        // SAFETY: stored below after its checks; alive for the process.
        return Ok(unsafe { &*ptr });
    }
    // SAFETY: the GIL is held; the name is a valid C string.
    let ptr = unsafe { pyo3::ffi::PyCapsule_Import(CAPSULE_NAME.as_ptr(), 0) } as *mut CorioApi;
    if ptr.is_null() {
        let err = PyImportError::new_err(
            "this extension runs its futures on corio's loop: install corio \
             (pip install corio) and run under it (corio.run(...))",
        );
        err.set_cause(py, PyErr::take(py));
        return Err(err);
    }
    // SAFETY: the capsule `corio._corio._C_API` holds a `CorioApi` (at
    // least its version and size fields, which are checked first).
    let api = unsafe { &*ptr };
    if api.version != API_VERSION || (api.size as usize) < std::mem::size_of::<CorioApi>() {
        return Err(PyRuntimeError::new_err(format!(
            "corio's loop offers interface version {} (size {}), this extension was \
             built for version {API_VERSION}: rebuild it against a matching corio-ext",
            api.version, api.size
        )));
    }
    API.store(ptr, Ordering::Release);
    Ok(api)
}

/// The interface, for a waker (one exists only after a spawn, so after
/// `api` succeeded).
pub(crate) fn loaded() -> &'static CorioApi {
    let ptr = API.load(Ordering::Acquire);
    assert!(
        !ptr.is_null(),
        "corio-ext: a corio waker exists only after the interface was loaded"
    );
    // SAFETY: as in `api`.
    unsafe { &*ptr }
}
