//! The extension module `corio._corio`: corio's Rust loop for Python.
//!
//! `CoreLoop` is the part of `corio.Loop` that lives in Rust: the ready
//! queue, the timers, the readiness watches and the wait itself. Python
//! handles (asyncio's own `Handle` / `TimerHandle`) go on corio's ready
//! queue as they are (module `handle_runnable`); the GIL is released only
//! around the blocking wait (module `gil`).

mod core_loop;
mod datagram_io;
mod fast_call;
mod flow;
mod gil;
mod handle;
mod handle_runnable;
mod inline_values;
mod interop;
mod links;
mod loop_method;
mod owned;
mod sockaddr;
mod socket_ops;
mod stream_io;
mod stream_state;
mod threadsafe;
mod watched;

use pyo3::prelude::*;

/// The module `corio._corio`.
#[pymodule]
fn _corio(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<core_loop::CoreLoop>()?;
    fast_call::install(m.py())?;
    loop_method::install(m.py())?;
    m.add_function(wrap_pyfunction!(inline_values::keep_attributes_inline, m)?)?;
    m.add_class::<threadsafe::RemoteLoop>()?;
    m.add_class::<handle::Handle>()?;
    m.add_class::<handle::TimerHandle>()?;
    m.add_class::<stream_io::StreamIO>()?;
    m.add_class::<datagram_io::DatagramIO>()?;
    m.add("_C_API", interop::capsule(m.py())?)?;
    Ok(())
}
