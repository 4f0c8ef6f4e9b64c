//! Rust futures and Python coroutines awaiting each other on one thread,
//! on corio's asyncio loop, from a separately built PyO3 extension module.
//!
//! A Rust future becomes something a coroutine awaits with
//! [`future_into_py`]; a Python awaitable becomes a Rust future with
//! [`into_future`]. Both run on the loop's own thread: corio polls the
//! extension's futures as its own tasks and they complete asyncio futures
//! directly, no thread hop and no lock. This crate does not link corio:
//! the running loop hands out a versioned C interface (the capsule
//! `corio._corio._C_API`, module [`abi`]), so an extension built by any
//! compiler works with the corio that is installed.
//!
//! ```no_run
//! use pyo3::prelude::*;
//!
//! /// `await double_later(21)` gives 42, after letting the loop turn once.
//! #[pyfunction]
//! fn double_later(py: Python<'_>, x: u64) -> PyResult<Bound<'_, PyAny>> {
//!     corio_ext::future_into_py(py, async move {
//!         corio_ext::yield_now().await;
//!         Ok(x * 2)
//!     })
//! }
//!
//! /// `await call_python(coro)`: a Rust task awaiting a Python coroutine.
//! #[pyfunction]
//! fn call_python<'py>(coro: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
//!     let fut = corio_ext::into_future(coro)?;
//!     corio_ext::future_into_py(coro.py(), async move { fut.await })
//! }
//! ```
//!
//! Errors cross as values: an `Err(PyErr)` becomes the awaiting
//! coroutine's exception, a Python exception becomes the Rust side's
//! `Err(PyErr)`, and a panic becomes `corio.RustPanic` (an `Exception`
//! with the panic's message), never a crash.

#![warn(missing_docs, missing_debug_implementations)]

pub mod abi;
mod api;
mod asyncio;
mod from_py;
mod into_py;
mod panic;
mod waker;

pub use from_py::{into_future, PyFuture};
pub use into_py::future_into_py;
pub use panic::panic_message;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lets the loop turn once (the task is woken at once and polled again at
/// the loop's next iteration), as `await asyncio.sleep(0)` does.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future [`yield_now`] returns.
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
