//! Readiness-based I/O on the loop's reactor: [`Async`] wraps any
//! non-blocking file descriptor (pipes, sockets, ...) so tasks can await it.

mod async_fd;
mod nonblocking;

pub use async_fd::Async;
pub(crate) use nonblocking::set_nonblocking;
