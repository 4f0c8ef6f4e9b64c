//! Readiness-based I/O on the loop's reactor: [`Async`] wraps any
//! non-blocking file descriptor (pipes, sockets, ...) so tasks can await it
//! (edge-triggered); [`Watch`] watches a descriptor someone else owns,
//! level-triggered, as asyncio's `add_reader` / `add_writer` do;
//! [`CompletionSocket`] reads and writes a stream socket someone else owns
//! through io_uring completions instead, where the loop runs in that mode.

mod async_fd;
mod completion_socket;
mod nonblocking;
mod socket_io;
mod watch;

pub use async_fd::Async;
pub use completion_socket::CompletionSocket;
/// The byte-stream traits corio's streams implement (from `futures-io`),
/// re-exported so users need not depend on it to name them.
pub use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
pub(crate) use nonblocking::set_nonblocking;
pub(crate) use socket_io::SocketIo;
pub use watch::{Interest, Watch};
