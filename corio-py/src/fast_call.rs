//! The loop's hottest entry points as raw `METH_FASTCALL | METH_KEYWORDS`
//! methods, installed on `CoreLoop` at import.
//!
//! asyncio's C `Task` and `Future` call `loop.call_soon(cb, context=ctx)`
//! for every step and every done callback. Through pyo3's generated
//! wrapper that call matched its keyword by decoding and comparing
//! strings, built the `*args` tuple through an iterator, and counted the
//! thread's GIL entries in a thread-local on the way in and out: a fifth
//! of a `call_soon`. Here the keyword is matched by pointer (an interned
//! `"context"`, as CPython passes it) with a string comparison only as a
//! fallback, and nothing else is done that pyo3 would not also do.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyString, PyTuple};

use crate::core_loop::CoreLoop;

/// What a loop method with the signature `(fixed..., *args, context=None)`
/// was called with.
struct VarArgs<'py, const N: usize> {
    fixed: [Bound<'py, PyAny>; N],
    rest: Bound<'py, PyTuple>,
    context: Option<Bound<'py, PyAny>>,
}

/// The interned `"context"`: CPython interns the keyword names in code
/// objects, so the common case is one pointer comparison.
fn context_name(py: Python<'_>) -> &Bound<'_, PyString> {
    static NAME: PyOnceLock<Py<PyString>> = PyOnceLock::new();
    NAME.get_or_init(py, || PyString::intern(py, "context").unbind())
        .bind(py)
}

/// Another `"context"` object seen as a keyword name (Python 3.11's C
/// `Task` passes a static string that is not the interned one), kept
/// alive for ever so that its address stays its own.
static CONTEXT_ALIAS: AtomicPtr<ffi::PyObject> = AtomicPtr::new(std::ptr::null_mut());

/// Whether a keyword name is `"context"`: by address when it can be.
fn is_context(kw: &Bound<'_, PyAny>) -> PyResult<bool> {
    let wanted = context_name(kw.py());
    if kw.is(wanted) || kw.as_ptr() == CONTEXT_ALIAS.load(Ordering::Relaxed) {
        return Ok(true);
    }
    if !kw.eq(wanted)? {
        return Ok(false);
    }
    // The GIL serializes this: the first alias seen is kept.
    if CONTEXT_ALIAS.load(Ordering::Relaxed).is_null() {
        CONTEXT_ALIAS.store(kw.clone().into_ptr(), Ordering::Relaxed);
    }
    Ok(true)
}

/// Parses a vectorcall of `name(fixed[0], ..., *args, context=None)`.
///
/// # Safety
///
/// The GIL is held; `args` points to `nargs` positional arguments followed
/// by one value per name in `kwnames` (NULL or a tuple of strings), all
/// borrowed for the duration of the call, as CPython passes them.
unsafe fn parse<'py, const N: usize>(
    py: Python<'py>,
    name: &str,
    fixed: [&str; N],
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<VarArgs<'py, N>> {
    let nargs = ffi::PyVectorcall_NARGS(nargs as usize) as usize;
    // SAFETY: `args` holds `nargs` positional and then the keyword values
    // as valid borrowed pointers (the caller's contract); each becomes an
    // owned reference.
    let arg = |i: usize| unsafe { Bound::from_borrowed_ptr(py, *args.add(i)) };
    let mut slots: [Option<Bound<'py, PyAny>>; N] =
        std::array::from_fn(|i| (i < nargs).then(|| arg(i)));
    let mut context = None;
    if !kwnames.is_null() {
        // SAFETY: `kwnames` is a tuple of strings (the caller's contract).
        let names =
            unsafe { Bound::from_borrowed_ptr(py, kwnames).cast_into_unchecked::<PyTuple>() };
        for (i, kw) in names.iter().enumerate() {
            if is_context(&kw)? {
                context = Some(arg(nargs + i));
                continue;
            }
            // The fixed parameters may be passed by name too, as asyncio's.
            let slot = fixed.iter().position(|f| kw.eq(*f).unwrap_or(false));
            match slot {
                Some(j) if slots[j].is_none() => slots[j] = Some(arg(nargs + i)),
                Some(_) => {
                    return Err(PyTypeError::new_err(format!(
                        "{name}() got multiple values for argument '{kw}'"
                    )))
                }
                None => {
                    return Err(PyTypeError::new_err(format!(
                        "{name}() got an unexpected keyword argument '{kw}'"
                    )))
                }
            }
        }
    }
    if slots.iter().any(Option::is_none) {
        let missing: Vec<&str> = (0..N)
            .filter(|&i| slots[i].is_none())
            .map(|i| fixed[i])
            .collect();
        return Err(PyTypeError::new_err(format!(
            "{name}() missing required argument(s): '{}'",
            missing.join("', '")
        )));
    }
    let fixed_args = slots.map(|slot| slot.expect("checked just above"));
    let extra = nargs.saturating_sub(N);
    // SAFETY: PyTuple_New returns a new tuple (or NULL with an exception
    // set); each slot is filled once with a new reference before use.
    let rest = unsafe {
        let tuple = ffi::PyTuple_New(extra as ffi::Py_ssize_t);
        let tuple = Bound::from_owned_ptr_or_err(py, tuple)?;
        for i in 0..extra {
            let item = *args.add(N + i);
            ffi::Py_INCREF(item);
            ffi::PyTuple_SET_ITEM(tuple.as_ptr(), i as ffi::Py_ssize_t, item);
        }
        tuple.cast_into_unchecked::<PyTuple>()
    };
    Ok(VarArgs {
        fixed: fixed_args,
        rest,
        context,
    })
}

/// Runs `body`, turning its error into a raised exception and a panic into
/// pyo3's `PanicException`, as pyo3's own wrappers do.
fn trampoline<'py>(
    py: Python<'py>,
    body: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
) -> *mut ffi::PyObject {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value.into_ptr(),
        Ok(Err(err)) => {
            err.restore(py);
            std::ptr::null_mut()
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("a Rust panic");
            PanicException::new_err(message.to_owned()).restore(py);
            std::ptr::null_mut()
        }
    }
}

/// A `METH_FASTCALL | METH_KEYWORDS` method of `CoreLoop` with the
/// signature `name(fixed..., *args, context=None)`: parses the call and
/// hands it to `body`.
///
/// # Safety
///
/// CPython is calling a method of `CoreLoop` so declared: the GIL is held,
/// the method descriptor checked that `slf` is a `CoreLoop` (or a
/// subclass), and the arguments follow the vectorcall convention (see
/// `parse`).
unsafe fn method<const N: usize>(
    (slf, args, nargs, kwnames): (
        *mut ffi::PyObject,
        *const *mut ffi::PyObject,
        ffi::Py_ssize_t,
        *mut ffi::PyObject,
    ),
    name: &str,
    fixed: [&str; N],
    body: impl for<'py> FnOnce(&Bound<'py, CoreLoop>, VarArgs<'py, N>) -> PyResult<Bound<'py, PyAny>>,
) -> *mut ffi::PyObject {
    // SAFETY: the GIL is held (the caller's contract).
    let py = unsafe { Python::assume_attached() };
    trampoline(py, || {
        // SAFETY: `slf` is a CoreLoop (the caller's contract).
        let this = unsafe { Bound::from_borrowed_ptr(py, slf).cast_into_unchecked::<CoreLoop>() };
        // SAFETY: the vectorcall convention (the caller's contract).
        let call = unsafe { parse(py, name, fixed, args, nargs, kwnames)? };
        body(&this, call)
    })
}

/// Defines `$fn`, the raw method `$name(fixed..., *args, context=None)`
/// of `CoreLoop`, which calls `CoreLoop::$fn(this, fixed..., args,
/// context)`.
macro_rules! vararg_method {
    ($(#[$doc:meta])* $fn:ident, [$($fixed:ident),+]) => {
        $(#[$doc])*
        pub(crate) unsafe extern "C" fn $fn(
            slf: *mut ffi::PyObject,
            args: *const *mut ffi::PyObject,
            nargs: ffi::Py_ssize_t,
            kwnames: *mut ffi::PyObject,
        ) -> *mut ffi::PyObject {
            let fixed = [$(stringify!($fixed)),+];
            // SAFETY: CPython calls this as the method it is installed as.
            unsafe {
                method((slf, args, nargs, kwnames), stringify!($fn), fixed, |this, call| {
                    let [$($fixed),+] = call.fixed;
                    CoreLoop::$fn(this, $($fixed,)+ call.rest, call.context)
                })
            }
        }
    };
}

vararg_method!(
    /// `CoreLoop.call_soon(callback, *args, context=None)`.
    call_soon,
    [callback]
);
vararg_method!(
    /// `CoreLoop.call_at(when, callback, *args, context=None)`.
    call_at,
    [when, callback]
);
vararg_method!(
    /// `CoreLoop.call_later(delay, callback, *args, context=None)`.
    call_later,
    [delay, callback]
);

/// `CoreLoop.get_debug()`: every new future asks.
unsafe extern "C" fn get_debug(
    slf: *mut ffi::PyObject,
    _noargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a method with the GIL held.
    let py = unsafe { Python::assume_attached() };
    trampoline(py, || {
        // SAFETY: the method descriptor checked that `slf` is a CoreLoop.
        let this = unsafe { Bound::from_borrowed_ptr(py, slf).cast_into_unchecked::<CoreLoop>() };
        Ok(PyBool::new(py, this.get().debug()).to_owned().into_any())
    })
}

/// A raw method: its name, its C function and calling convention, and its
/// docstring (with the signature, for `inspect`).
struct RawMethod {
    name: &'static str,
    function: ffi::PyMethodDefPointer,
    flags: std::os::raw::c_int,
    doc: &'static str,
}

/// The raw methods.
const METHODS: &[RawMethod] = &[
    RawMethod {
        name: "call_soon",
        function: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: call_soon,
        },
        flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        doc: "call_soon($self, callback, /, *args, context=None)\n--\n\n\
              asyncio's call_soon: runs callback(*args) in context (a copy of the \
              current one if not given) at the next iteration.",
    },
    RawMethod {
        name: "call_at",
        function: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: call_at,
        },
        flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        doc: "call_at($self, when, callback, /, *args, context=None)\n--\n\n\
              asyncio's call_at: runs callback(*args) at when (loop.time() \
              seconds), in context (a copy of the current one if not given).",
    },
    RawMethod {
        name: "call_later",
        function: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: call_later,
        },
        flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        doc: "call_later($self, delay, callback, /, *args, context=None)\n--\n\n\
              asyncio's call_later: call_at(loop.time() + delay, callback, *args).",
    },
    RawMethod {
        name: "get_debug",
        function: ffi::PyMethodDefPointer {
            PyCFunction: get_debug,
        },
        flags: ffi::METH_NOARGS,
        doc: "get_debug($self, /)\n--\n\nWhether the loop is in asyncio's debug mode.",
    },
];

/// Installs the raw methods on `CoreLoop`.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    let ty = py.get_type::<CoreLoop>();
    for method in METHODS {
        let name_c = std::ffi::CString::new(method.name).expect("no NUL in a method name");
        let doc_c = std::ffi::CString::new(method.doc).expect("no NUL in a docstring");
        // The definition must outlive the type: leaked, once per import.
        let def = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: Box::leak(name_c.into_boxed_c_str()).as_ptr(),
            ml_meth: method.function,
            ml_flags: method.flags,
            ml_doc: Box::leak(doc_c.into_boxed_c_str()).as_ptr(),
        }));
        // SAFETY: the GIL is held, `ty` is a live type object and `def`
        // lives for ever; the call returns a new reference or NULL with an
        // exception set.
        let descr = unsafe {
            Bound::from_owned_ptr_or_err(py, ffi::PyDescr_NewMethod(ty.as_type_ptr(), def))?
        };
        ty.setattr(method.name, descr)?;
    }
    Ok(())
}
