//! `CoreLoop.call_soon` on Python 3.10 and 3.11: a method descriptor of
//! corio's own that hands every loop the same bound method.
//!
//! Before 3.12 the C `Task` and `Future` look `loop.call_soon` up with
//! `getattr` for every step and done callback; through CPython's method
//! descriptor that makes a new bound method, a garbage-collected object,
//! each time. Binding one per loop in the instance's attributes saved that
//! (sleep(0): 5,945 -> 5,571 instructions) but cost every Python caller of
//! `loop.call_soon(...)`: an attribute of that name on the instance keeps
//! 3.11's interpreter from specializing the method load. This descriptor
//! serves both: its type says it behaves as an unbound method
//! (`Py_TPFLAGS_METHOD_DESCRIPTOR`), so `loop.call_soon(cb)` in Python is
//! a specialized load and a call with `loop` as first argument (no bound
//! object at all), while `getattr(loop, "call_soon")` returns the bound
//! method kept in the loop (`CoreLoop::bound_call_soon`). From 3.12 the
//! C `Task` calls the method without binding it, and CPython's own
//! descriptor (whose calls 3.12 specializes) stays.

use std::cell::{Cell, UnsafeCell};
use std::os::raw::c_int;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::Borrowed;
use pyo3::{PyTraverseError, PyVisit};

use crate::core_loop::CoreLoop;

/// One Python object kept by a frozen pyclass, read and replaced only with
/// the GIL held (a `Python` token proves it) and shown to the collector.
pub(crate) struct GilSlot {
    value: UnsafeCell<Option<Py<PyAny>>>,
    /// Set by `retire`: `fill` keeps nothing any more (a closed loop makes
    /// no new cycle through itself).
    retired: Cell<bool>,
}

// SAFETY: every access to the cells takes a `Python` token or runs in the
// collector's traversal, both with the GIL held, which serializes them
// (the extension is built for GIL-enabled CPython only).
unsafe impl Sync for GilSlot {}

impl GilSlot {
    pub(crate) const fn new() -> GilSlot {
        GilSlot {
            value: UnsafeCell::new(None),
            retired: Cell::new(false),
        }
    }

    /// A new reference to the object, if set.
    pub(crate) fn get(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        // SAFETY: GIL held (`py`); the reference does not outlive this
        // expression, and `clone_ref` runs no Python code.
        unsafe { (*self.value.get()).as_ref().map(|obj| obj.clone_ref(py)) }
    }

    /// Keeps a new reference to `obj` if the slot is empty and not
    /// retired. Drops nothing, so it is safe where pyo3 does not know
    /// that the thread holds the GIL (a raw slot function), where dropping
    /// a `Py` would only queue its release.
    pub(crate) fn fill(&self, obj: Borrowed<'_, '_, PyAny>) {
        // SAFETY: GIL held (`obj` proves it); nothing runs meanwhile.
        let value = unsafe { &mut *self.value.get() };
        if value.is_none() && !self.retired.get() {
            *value = Some(obj.to_owned().unbind());
        }
    }

    /// Drops the object and keeps none from now on.
    pub(crate) fn retire(&self, _py: Python<'_>) {
        self.retired.set(true);
        // SAFETY: GIL held (`_py`); the slot is emptied before the old
        // object is released, so Python code its release runs sees a
        // consistent slot.
        let old = unsafe { (*self.value.get()).take() };
        drop(old);
    }

    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: the collector traverses with the GIL held and runs no
        // code that could write the slot meanwhile.
        match unsafe { &*self.value.get() } {
            Some(obj) => visit.call(obj),
            None => Ok(()),
        }
    }
}

/// The descriptor object: a vectorcall slot (`__vectorcalloffset__`) and
/// the CPython method descriptor it stands for.
#[repr(C)]
struct LoopMethod {
    ob_base: ffi::PyObject,
    vectorcall: Option<ffi::vectorcallfunc>,
    /// The method descriptor of the raw `call_soon` (strong).
    method: *mut ffi::PyObject,
}

/// `CoreLoop`'s type object, set by `install` before any call.
static CORE_LOOP: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(std::ptr::null_mut());

/// The last subclass of `CoreLoop` seen (strong, so that its address
/// cannot be reused by another type): `corio.Loop`, nearly always.
static KNOWN_SUBCLASS: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(std::ptr::null_mut());

/// Whether `obj` is a `CoreLoop`: two pointer comparisons in the common
/// case instead of a walk of the type's MRO.
///
/// # Safety
/// The GIL is held and `obj` is live.
unsafe fn is_core_loop(obj: *mut ffi::PyObject) -> bool {
    // SAFETY: the caller's contract; the types compared and kept are live.
    unsafe {
        let ty = ffi::Py_TYPE(obj);
        let core_loop = CORE_LOOP.load(Ordering::Relaxed);
        if ty == core_loop || ty == KNOWN_SUBCLASS.load(Ordering::Relaxed) {
            return true;
        }
        if ffi::PyType_IsSubtype(ty, core_loop) == 0 {
            return false;
        }
        ffi::Py_INCREF(ty.cast());
        let old = KNOWN_SUBCLASS.swap(ty, Ordering::Relaxed);
        if !old.is_null() {
            ffi::Py_DECREF(old.cast());
        }
        true
    }
}

/// `CoreLoop.call_soon(loop, callback, *args, context=None)`: the unbound
/// call that `loop.call_soon(...)` becomes.
unsafe extern "C" fn call(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls this with the GIL held, `callable` our
    // descriptor and the vectorcall convention for the rest.
    unsafe {
        let nargs = ffi::PyVectorcall_NARGS(nargsf);
        if nargs < 1 || !is_core_loop(*args) {
            // The method descriptor's own call raises its own error.
            let method = (*callable.cast::<LoopMethod>()).method;
            return ffi::PyObject_Vectorcall(method, args, nargsf, kwnames);
        }
        crate::fast_call::call_soon(*args, args.add(1), nargs - 1, kwnames)
    }
}

/// `descr.__get__(obj, type)`: the loop's bound method for a loop, the
/// descriptor itself for the class.
unsafe extern "C" fn get(
    descr: *mut ffi::PyObject,
    obj: *mut ffi::PyObject,
    ty: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls this with the GIL held and live (or NULL)
    // `obj` and `ty`.
    unsafe {
        if obj.is_null() || obj == ffi::Py_None() {
            ffi::Py_INCREF(descr);
            return descr;
        }
        let py = Python::assume_attached();
        let this =
            is_core_loop(obj).then(|| Borrowed::from_ptr(py, obj).cast_unchecked::<CoreLoop>());
        let slot = this.as_ref().map(|this| this.get().bound_call_soon());
        if let Some(bound) = slot.and_then(|slot| slot.get(py)) {
            return bound.into_ptr();
        }
        // Not bound yet, or not a loop: the method descriptor binds it, or
        // raises the error CPython would.
        let method = (*descr.cast::<LoopMethod>()).method;
        let descr_get = (*ffi::Py_TYPE(method))
            .tp_descr_get
            .expect("a method descriptor binds");
        let bound = descr_get(method, obj, ty);
        if let Some(slot) = slot.filter(|_| !bound.is_null()) {
            slot.fill(Borrowed::from_ptr(py, bound));
        }
        bound
    }
}

/// Attributes other than the descriptor's own (`__name__`, `__doc__`,
/// `__text_signature__`, ...) are the method descriptor's.
unsafe extern "C" fn getattro(
    descr: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: GIL held, live arguments (CPython's call).
    unsafe {
        let found = ffi::PyObject_GenericGetAttr(descr, name);
        if !found.is_null() || ffi::PyErr_ExceptionMatches(ffi::PyExc_AttributeError) == 0 {
            return found;
        }
        ffi::PyErr_Clear();
        ffi::PyObject_GetAttr((*descr.cast::<LoopMethod>()).method, name)
    }
}

unsafe extern "C" fn repr(descr: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: GIL held, live descriptor.
    unsafe { ffi::PyObject_Repr((*descr.cast::<LoopMethod>()).method) }
}

/// Makes the descriptor type and puts an instance on `CoreLoop` in place of
/// its `call_soon` (Python before 3.12 only).
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    if py.version_info() >= (3, 12) {
        return Ok(());
    }
    let core_loop = py.get_type::<CoreLoop>();
    // The type lives as long as the module (a static type of the module's).
    CORE_LOOP.store(core_loop.as_type_ptr(), Ordering::Relaxed);
    let method = core_loop.getattr("call_soon")?;
    // The type's definition must outlive it: leaked, once per import.
    let members = Box::leak(Box::new([
        ffi::PyMemberDef {
            name: c"__vectorcalloffset__".as_ptr(),
            type_code: ffi::Py_T_PYSSIZET,
            offset: std::mem::offset_of!(LoopMethod, vectorcall) as ffi::Py_ssize_t,
            flags: ffi::Py_READONLY,
            doc: std::ptr::null(),
        },
        // SAFETY: an all-zero PyMemberDef ends the list.
        unsafe { std::mem::zeroed() },
    ]));
    let slots = Box::leak(Box::new([
        slot(ffi::Py_tp_call, ffi::PyVectorcall_Call as *mut _),
        slot(ffi::Py_tp_descr_get, get as *mut _),
        slot(ffi::Py_tp_getattro, getattro as *mut _),
        slot(ffi::Py_tp_repr, repr as *mut _),
        slot(ffi::Py_tp_members, members.as_mut_ptr().cast()),
        slot(0, std::ptr::null_mut()),
    ]));
    let spec = Box::leak(Box::new(ffi::PyType_Spec {
        name: c"corio._corio.LoopMethod".as_ptr(),
        basicsize: std::mem::size_of::<LoopMethod>() as c_int,
        itemsize: 0,
        flags: (ffi::Py_TPFLAGS_DEFAULT
            | ffi::Py_TPFLAGS_METHOD_DESCRIPTOR
            | ffi::Py_TPFLAGS_HAVE_VECTORCALL
            | ffi::Py_TPFLAGS_IMMUTABLETYPE) as _,
        slots: slots.as_mut_ptr(),
    }));
    // SAFETY: the GIL is held; the spec and everything it points to live
    // for ever; the new type's instances are `LoopMethod`s, made below
    // with every field set before anyone sees them.
    unsafe {
        let ty = Bound::from_owned_ptr_or_err(py, ffi::PyType_FromSpec(spec))?;
        let alloc = (*ty.as_ptr().cast::<ffi::PyTypeObject>())
            .tp_alloc
            .expect("a type allocates");
        let descr = alloc(ty.as_ptr().cast(), 0);
        let descr = Bound::from_owned_ptr_or_err(py, descr)?;
        let fields = descr.as_ptr().cast::<LoopMethod>();
        (*fields).vectorcall = Some(call);
        (*fields).method = method.into_ptr();
        core_loop.setattr("call_soon", descr)?;
    }
    Ok(())
}

fn slot(slot: c_int, pfunc: *mut std::ffi::c_void) -> ffi::PyType_Slot {
    ffi::PyType_Slot { slot, pfunc }
}
