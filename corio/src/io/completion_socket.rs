//! [`CompletionSocket`]: a stream socket someone else owns, read and
//! written through the loop's io_uring completions (the completion-mode
//! counterpart of [`Watch`](super::Watch), for an owner that drives its own
//! reads and writes, as the Python loop's transports do).

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::RawFd;
use std::task::{Context, Poll};

use crate::runtime::completion::CompletionStream;
use crate::Runtime;

/// A connected stream socket (TCP or Unix) that someone else owns, read
/// and written through its loop's io_uring requests: received bytes wait in
/// a buffer of the loop's pool until read, written bytes are copied out
/// and sent in the background, in order, with the loop's next wait (no
/// system call per read or write).
///
/// Only where the loop runs on io_uring in completion mode
/// ([`on`](Self::on) returns `None` elsewhere: use [`Watch`](super::Watch)
/// and `recv`/`send` there). The descriptor stays the owner's:
/// [`close`](Self::close) (or drop) this before closing it. Bytes written
/// and not yet sent when it closes are still sent (on a duplicate of the
/// descriptor), as `close(2)` leaves a socket's send buffer to go out;
/// [`discard_unsent`](Self::discard_unsent) first drops them instead.
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use std::io::{Read, Write};
/// use std::os::fd::AsRawFd;
/// use corio::io::CompletionSocket;
///
/// use corio::runtime::IoBackend;
///
/// let rt = corio::Runtime::builder().io_backend(IoBackend::IoUring).build();
/// let Ok(rt) = rt else { return }; // a kernel without io_uring
/// let (mut ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
/// ours.set_nonblocking(true).unwrap();
/// let Some(socket) = CompletionSocket::on(&rt, ours.as_raw_fd()).unwrap() else {
///     return; // a kernel without completion mode: readiness it is
/// };
/// rt.block_on(async {
///     socket.try_write(b"ping").unwrap();
///     peer.write_all(b"pong").unwrap();
///     socket.readable().await;
///     let mut buf = [0; 16];
///     let n = socket.try_read(&mut buf).unwrap();
///     assert_eq!(&buf[..n], b"pong");
///     socket.flushed().await;
/// });
/// let mut got = [0; 4];
/// peer.read_exact(&mut got).unwrap();
/// assert_eq!(&got, b"ping");
/// socket.close(); // before `ours` closes the descriptor
/// # let _ = &mut ours;
/// # }
/// ```
pub struct CompletionSocket {
    fd: RawFd,
    stream: RefCell<Option<CompletionStream>>,
    /// Sends finished when `poll_write_progress` last reported progress.
    seen: Cell<u64>,
}

impl CompletionSocket {
    /// `fd` (a connected, non-blocking stream socket) on `runtime`'s loop,
    /// running or not; `None` where that loop reads sockets on readiness
    /// (epoll, or io_uring in readiness mode).
    pub fn on(runtime: &Runtime, fd: RawFd) -> io::Result<Option<CompletionSocket>> {
        Ok(
            CompletionStream::on(runtime.core(), fd)?.map(|stream| CompletionSocket {
                fd,
                stream: RefCell::new(Some(stream)),
                seen: Cell::new(0),
            }),
        )
    }

    /// The socket's descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    fn with<R>(&self, f: impl FnOnce(&CompletionStream) -> io::Result<R>) -> io::Result<R> {
        match self.stream.borrow().as_ref() {
            Some(stream) => f(stream),
            None => Err(closed()),
        }
    }

    /// Ready when [`try_read`](Self::try_read) would not return
    /// `WouldBlock` (bytes came, or the end of the stream, or an error);
    /// otherwise queues one receive (if none is in flight) and wakes `cx`
    /// when it completes. Ready at once after [`close`](Self::close).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        match self.stream.borrow().as_ref() {
            Some(stream) => stream.poll_read_ready(cx),
            None => Poll::Ready(()),
        }
    }

    /// Waits until a read would not wait (see
    /// [`poll_read_ready`](Self::poll_read_ready)).
    pub async fn readable(&self) {
        poll_fn(|cx| self.poll_read_ready(cx)).await
    }

    /// Reads received bytes into `buf`: the count (0: the peer ended the
    /// stream), the receive's error, or `WouldBlock` when nothing came yet
    /// (wait with [`readable`](Self::readable), which asks for more).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.with(|stream| stream.try_read(buf))
    }

    /// Hands up to `max` received bytes to `f` straight from the receive
    /// buffer (no copy aside; an empty slice at the end of the stream) and
    /// consumes them: `f`'s result, the receive's error, or `WouldBlock`
    /// when nothing came yet. `f` must not read from this socket (it runs
    /// while the receive state is borrowed; such a read panics).
    pub fn try_read_with<R>(&self, max: usize, f: impl FnOnce(&[u8]) -> R) -> io::Result<R> {
        self.with(|stream| stream.try_read_with(max, f))
    }

    /// Copies what fits of `data` into the outgoing buffer (sent in the
    /// background, in order) and returns how much; `WouldBlock` while the
    /// outgoing buffer is full (256 KiB unsent), and the error of a failed
    /// send once one failed.
    pub fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        self.try_write_vectored(&[IoSlice::new(data)])
    }

    /// As [`try_write`](Self::try_write), for several buffers, in order.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.with(|stream| stream.try_write(bufs))
    }

    /// Bytes written and not yet sent.
    pub fn unsent(&self) -> usize {
        self.with(|stream| Ok(stream.unsent())).unwrap_or(0)
    }

    /// The error a send failed with, if one did (writes fail with it from
    /// then on).
    pub fn send_error(&self) -> Option<io::Error> {
        self.with(|stream| Ok(stream.send_error())).ok().flatten()
    }

    /// Ready when a send finished (or failed) since the last time this was
    /// ready, or when nothing is unsent: the moment to write more, or to
    /// see whether everything went. After [`close`](Self::close), ready at
    /// once.
    pub fn poll_write_progress(&self, cx: &mut Context<'_>) -> Poll<()> {
        match self.stream.borrow().as_ref() {
            Some(stream) => stream.poll_write_progress(cx, &self.seen),
            None => Poll::Ready(()),
        }
    }

    /// Waits until everything written was sent, or a send failed.
    pub async fn flushed(&self) {
        poll_fn(|cx| loop {
            // Progress short of the end: the next poll waits for more.
            std::task::ready!(self.poll_write_progress(cx));
            if self.unsent() == 0 || self.send_error().is_some() {
                return Poll::Ready(());
            }
        })
        .await
    }

    /// `shutdown(2)`; the write side once every written byte was sent.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.with(|stream| stream.shutdown(how))
    }

    /// Drops the bytes written and not yet handed to the kernel, and makes
    /// a send in flight fail (the write side is shut down): an abort, so
    /// that a peer that does not read cannot keep the connection open.
    pub fn discard_unsent(&self) {
        if let Some(stream) = self.stream.borrow().as_ref() {
            stream.discard_unsent();
        }
    }

    /// Lets go of the socket: its receive is cancelled, what is unsent is
    /// left to be sent. Call before the owner closes the descriptor (drop
    /// does the same); later reads and writes fail with `NotConnected`.
    pub fn close(&self) {
        let stream = self.stream.borrow_mut().take();
        drop(stream);
    }
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the completion socket was closed",
    )
}

impl std::fmt::Debug for CompletionSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletionSocket")
            .field("fd", &self.fd)
            .field("closed", &self.stream.borrow().is_none())
            .finish()
    }
}
