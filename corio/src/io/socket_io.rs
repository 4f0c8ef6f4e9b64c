//! `SocketIo<T>`: a connected stream socket's reads and writes, on
//! readiness ([`Async`]: `read(2)`/`write(2)` when the reactor says
//! ready) or, when the loop runs on io_uring in completion mode, through
//! the ring's receive and send requests (`CompletionStream`). The stream
//! types (`TcpStream`, `UnixStream`) hold one and never ask which.

use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::task::{Context, Poll};

use super::Async;
use crate::runtime::completion::CompletionStream;

/// A connected stream socket on the running loop (see the module's docs).
pub(crate) enum SocketIo<T: AsFd> {
    /// Readiness: the loop says when to try `read(2)`/`write(2)`.
    Readiness(Async<T>),
    /// Completion: receives and sends are io_uring requests. `stream` is
    /// declared first so it lets go of the descriptor before `io` closes it.
    Completion { stream: CompletionStream, io: T },
}

impl<T: AsFd> SocketIo<T>
where
    for<'a> &'a T: Read + Write,
{
    /// Puts `io` in non-blocking mode and registers it with the running
    /// loop, in the loop's mode. Panics if no loop is running here.
    #[track_caller]
    pub(crate) fn new(io: T) -> io::Result<SocketIo<T>> {
        super::set_nonblocking(&io)?;
        match CompletionStream::for_running_loop(io.as_fd().as_raw_fd())? {
            Some(stream) => Ok(SocketIo::Completion { stream, io }),
            None => Ok(SocketIo::Readiness(Async::new(io)?)),
        }
    }

    /// A socket connected on readiness (`connect` waits for writability),
    /// moved to completion mode if the loop reads sockets that way.
    #[track_caller]
    pub(crate) fn from_async(io: Async<T>) -> io::Result<SocketIo<T>> {
        if CompletionStream::running_loop_uses() {
            return SocketIo::new(io.into_inner());
        }
        Ok(SocketIo::Readiness(io))
    }

    /// The socket.
    pub(crate) fn get_ref(&self) -> &T {
        match self {
            SocketIo::Readiness(a) => a.get_ref(),
            SocketIo::Completion { io, .. } => io,
        }
    }

    /// Whether reads and writes are io_uring requests.
    pub(crate) fn is_completion_based(&self) -> bool {
        matches!(self, SocketIo::Completion { .. })
    }

    /// Reads into `buf`; 0 means the peer closed its side. Any number of
    /// tasks may wait at once; each is woken.
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SocketIo::Readiness(a) => a.read_len(buf.len(), |mut s| s.read(buf)).await,
            SocketIo::Completion { stream, .. } => {
                std::future::poll_fn(|cx| stream.poll_read(cx, buf)).await
            }
        }
    }

    /// Writes some of `buf`; returns how much.
    pub(crate) async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SocketIo::Readiness(a) => a.write_len(buf.len(), |mut s| s.write(buf)).await,
            SocketIo::Completion { stream, .. } => {
                let bufs = [IoSlice::new(buf)];
                std::future::poll_fn(|cx| stream.poll_write(cx, &bufs)).await
            }
        }
    }

    /// Reads without consuming (`MSG_PEEK`).
    pub(crate) async fn peek(
        &self,
        buf: &mut [u8],
        peek: impl Fn(&T, &mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        match self {
            SocketIo::Readiness(a) => a.read_with(|s| peek(s, buf)).await,
            SocketIo::Completion { stream, .. } => {
                std::future::poll_fn(|cx| stream.poll_peek(cx, buf)).await
            }
        }
    }

    /// `AsyncRead::poll_read`.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self {
            SocketIo::Readiness(a) => a.poll_read_len(cx, buf.len(), |mut s| s.read(buf)),
            SocketIo::Completion { stream, .. } => stream.poll_read(cx, buf),
        }
    }

    /// `AsyncWrite::poll_write`.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            SocketIo::Readiness(a) => a.poll_write_len(cx, buf.len(), |mut s| s.write(buf)),
            SocketIo::Completion { stream, .. } => stream.poll_write(cx, &[IoSlice::new(buf)]),
        }
    }

    /// `AsyncWrite::poll_write_vectored`.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self {
            SocketIo::Readiness(a) => a.poll_write_with(cx, |mut s| s.write_vectored(bufs)),
            SocketIo::Completion { stream, .. } => stream.poll_write(cx, bufs),
        }
    }

    /// `AsyncWrite::poll_flush`: ready at once on readiness (no user-space
    /// buffer); once every written byte was sent in completion mode.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            SocketIo::Readiness(_) => Poll::Ready(Ok(())),
            SocketIo::Completion { stream, .. } => stream.poll_flush(cx),
        }
    }

    /// Shuts down a side now (`shutdown` is `T`'s own), or, for the write
    /// side in completion mode, once what was written is sent.
    pub(crate) fn shutdown(
        &self,
        how: std::net::Shutdown,
        shutdown: impl FnOnce(&T, std::net::Shutdown) -> io::Result<()>,
    ) -> io::Result<()> {
        match self {
            SocketIo::Readiness(a) => shutdown(a.get_ref(), how),
            SocketIo::Completion { stream, .. } => stream.shutdown(how),
        }
    }
}

impl<T: AsFd> AsFd for SocketIo<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            SocketIo::Readiness(a) => a.as_fd(),
            SocketIo::Completion { io, .. } => io.as_fd(),
        }
    }
}

impl<T: AsFd + std::fmt::Debug> std::fmt::Debug for SocketIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SocketIo::Readiness(a) => a.fmt(f),
            SocketIo::Completion { io, .. } => {
                f.debug_struct("Completion").field("io", io).finish()
            }
        }
    }
}
