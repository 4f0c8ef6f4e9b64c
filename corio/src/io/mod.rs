//! Readiness-based I/O on the loop's reactor: [`Async`] wraps any
//! non-blocking file descriptor (pipes, sockets, ...) so tasks can await it.

mod async_fd;
mod nonblocking;

pub use async_fd::Async;
/// The byte-stream traits corio's streams implement (from `futures-io`),
/// re-exported so users need not depend on it to name them.
pub use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
pub(crate) use nonblocking::set_nonblocking;
