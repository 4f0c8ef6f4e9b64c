//! A Rust panic as a Python exception: `corio.RustPanic`, an `Exception`
//! (not a `BaseException`), carrying the panic's message.

use std::any::Any;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The panic's message (what `panic!` formatted), or a note that it had
/// none.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a Rust future panicked (with a payload that is not a string)".to_owned()
    }
}

/// `corio.RustPanic(message)` for a panic's payload (a `RuntimeError` if
/// `corio` cannot be imported, which cannot happen on a corio loop).
pub(crate) fn panic_error(py: Python<'_>, payload: Box<dyn Any + Send>) -> PyErr {
    let message = panic_message(&*payload);
    match py
        .import("corio")
        .and_then(|m| m.getattr("RustPanic"))
        .and_then(|cls| cls.call1((message.clone(),)))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(_) => PyRuntimeError::new_err(message),
    }
}
