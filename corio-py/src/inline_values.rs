//! Python 3.11 and 3.12 keep a plain object's attributes in *inline
//! values* (an array beside the object, its keys shared by the class) as
//! long as nobody asks for its `__dict__`, and their specializing
//! interpreter turns `loop.call_later(...)`, `self._ready` and the like
//! into one version check and one load only for such objects. CPython sets
//! the values array up in `object.__new__`; pyo3 allocates a `CoreLoop`
//! subclass with the type's `tp_alloc` instead, so every `corio.Loop` got a
//! full dictionary at its first attribute and every method load on it
//! stayed generic (`dis.dis(f, adaptive=True)` shows `LOAD_ATTR` where the
//! stock loop gets `LOAD_ATTR_METHOD_WITH_VALUES`). Here a subclass's
//! `tp_alloc` goes through `object.__new__` once, so the object comes back
//! set up as CPython's own objects are. From 3.13 the allocator itself
//! sets the values up, and nothing is installed.

use std::cell::Cell;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::core_loop::CoreLoop;

thread_local! {
    /// Set while `object.__new__` runs for `alloc`, which it calls back.
    static IN_OBJECT_NEW: Cell<bool> = const { Cell::new(false) };
}

/// A `tp_alloc` that lets `object.__new__` allocate (calling back here,
/// which then allocates as the default does) and set the values up.
unsafe extern "C" fn alloc(
    ty: *mut ffi::PyTypeObject,
    items: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    if items != 0 || IN_OBJECT_NEW.get() {
        // SAFETY: the caller's contract is `tp_alloc`'s, which this is.
        return unsafe { ffi::PyType_GenericAlloc(ty, items) };
    }
    // SAFETY: the GIL is held (allocation needs it); `object.__new__` is
    // always set; the empty tuple is a new reference released below, and
    // `object.__new__(ty)` with no arguments only allocates through
    // `ty->tp_alloc` (this function, flagged to allocate plainly) and
    // initializes the instance dictionary's values.
    unsafe {
        let args = ffi::PyTuple_New(0);
        if args.is_null() {
            return std::ptr::null_mut();
        }
        let object_new = ffi::PyBaseObject_Type.tp_new.expect("object has tp_new");
        IN_OBJECT_NEW.set(true);
        let obj = object_new(ty, args, std::ptr::null_mut());
        IN_OBJECT_NEW.set(false);
        ffi::Py_DECREF(args);
        obj
    }
}

/// Makes instances of `cls` (a Python subclass of `CoreLoop`) keep their
/// attributes in inline values, on the versions that need it; called for
/// `corio.Loop` and, from its `__init_subclass__`, for every subclass.
#[pyfunction]
pub(crate) fn keep_attributes_inline(cls: &Bound<'_, PyType>) -> PyResult<()> {
    if !cls.is_subclass_of::<CoreLoop>()? {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "keep_attributes_inline: not a subclass of CoreLoop",
        ));
    }
    let version = cls.py().version_info();
    if !(version.major == 3 && (11..13).contains(&version.minor)) {
        return Ok(());
    }
    // SAFETY: `cls` is a live type object and the GIL is held; a heap
    // type's `tp_alloc` is an ordinary field its creator may set, and
    // `alloc` honours `tp_alloc`'s contract.
    unsafe {
        let ty = cls.as_type_ptr();
        if (*ty).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE == 0 {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "keep_attributes_inline: not a class made by a class statement",
            ));
        }
        (*ty).tp_alloc = Some(alloc);
    }
    Ok(())
}
