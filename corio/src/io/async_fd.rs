//! `Async<T>`: a non-blocking descriptor registered with the running loop.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::driver::io::Direction;
use crate::runtime::registration::Registration;

/// A file descriptor (pipe, socket, terminal, ...) in non-blocking mode,
/// registered with the running loop's reactor, so that tasks await its
/// readiness instead of blocking the thread.
///
/// Implements [`futures_io::AsyncRead`] / [`AsyncWrite`] when `&T`
/// implements `Read` / `Write`.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// corio::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (mut a, mut b) = (corio::io::Async::new(a).unwrap(), corio::io::Async::new(b).unwrap());
///     a.write_all(b"ping").await.unwrap();
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
/// });
/// ```
pub struct Async<T: AsFd> {
    /// Declared first so it is dropped (deregistered) before `io` closes.
    registration: Registration,
    /// `None` only after `into_inner`.
    io: Option<T>,
}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with the running loop.
    ///
    /// Panics if no loop is running on this thread.
    #[track_caller]
    pub fn new(io: T) -> io::Result<Async<T>> {
        crate::io::set_nonblocking(&io)?;
        let registration = Registration::new(io.as_fd().as_raw_fd())?;
        Ok(Async {
            registration,
            io: Some(io),
        })
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("Async used after into_inner")
    }

    /// Deregisters and returns the inner I/O object (still non-blocking).
    pub fn into_inner(mut self) -> T {
        self.io.take().expect("Async used after into_inner")
    }

    /// Waits until the descriptor may be readable. Any number of tasks may
    /// wait at once; each is woken.
    pub async fn readable(&self) -> io::Result<()> {
        let mut waiter = self.registration.waiter(Direction::Read);
        std::future::poll_fn(|cx| waiter.poll_ready(cx).map(Ok)).await
    }

    /// Waits until the descriptor may be writable. Any number of tasks may
    /// wait at once; each is woken.
    pub async fn writable(&self) -> io::Result<()> {
        let mut waiter = self.registration.waiter(Direction::Write);
        std::future::poll_fn(|cx| waiter.poll_ready(cx).map(Ok)).await
    }

    /// Forgets read readiness: the next `readable` waits for a new edge.
    pub(crate) fn clear_readable(&self) {
        self.registration.clear_ready(Direction::Read);
    }

    /// Forgets write readiness: the next `writable` waits for a new edge.
    pub(crate) fn clear_writable(&self) {
        self.registration.clear_ready(Direction::Write);
    }

    /// Runs the non-blocking `op` until it does not fail with `WouldBlock`,
    /// waiting for read readiness in between. Any number of tasks may wait
    /// at once; each is woken.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let io = self.get_ref();
        let mut waiter = self.registration.waiter(Direction::Read);
        std::future::poll_fn(|cx| waiter.poll_io(cx, || op(io))).await
    }

    /// Runs the non-blocking `op` until it does not fail with `WouldBlock`,
    /// waiting for write readiness in between. Any number of tasks may wait
    /// at once; each is woken.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let io = self.get_ref();
        let mut waiter = self.registration.waiter(Direction::Write);
        std::future::poll_fn(|cx| waiter.poll_io(cx, || op(io))).await
    }

    /// A stream read into a buffer of `len` bytes from `&self` (a short
    /// read clears readiness); concurrent readers each get woken.
    pub(crate) fn read_len<'a>(
        &'a self,
        len: usize,
        mut op: impl FnMut(&T) -> io::Result<usize> + 'a,
    ) -> impl std::future::Future<Output = io::Result<usize>> + 'a {
        let io = self.get_ref();
        let mut waiter = self.registration.waiter(Direction::Read);
        std::future::poll_fn(move |cx| waiter.poll_io_len(cx, len, || op(io)))
    }

    /// A stream write of `len` bytes from `&self` (a short write clears
    /// readiness); concurrent writers each get woken.
    pub(crate) fn write_len<'a>(
        &'a self,
        len: usize,
        mut op: impl FnMut(&T) -> io::Result<usize> + 'a,
    ) -> impl std::future::Future<Output = io::Result<usize>> + 'a {
        let io = self.get_ref();
        let mut waiter = self.registration.waiter(Direction::Write);
        std::future::poll_fn(move |cx| waiter.poll_io_len(cx, len, || op(io)))
    }

    /// Polls the non-blocking `op` in direction read (for hand-written
    /// futures). One waiter at a time: a second task polling this in the
    /// same direction takes the first one's place; tasks that wait
    /// together use [`read_with`](Self::read_with).
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        self.registration.poll_io(cx, Direction::Read, || op(io))
    }

    /// Polls the non-blocking `op` in direction write (for hand-written
    /// futures). One waiter at a time, as for
    /// [`poll_read_with`](Self::poll_read_with).
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        self.registration.poll_io(cx, Direction::Write, || op(io))
    }
}

impl<T: AsFd> Async<T> {
    /// A stream read into a buffer of `len` bytes (see
    /// `Registration::poll_io_len`: a short read clears readiness).
    pub(crate) fn poll_read_len(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        mut op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let io = self.get_ref();
        self.registration
            .poll_io_len(cx, Direction::Read, len, || op(io))
    }

    /// A stream write of `len` bytes (a short write clears readiness).
    pub(crate) fn poll_write_len(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        mut op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let io = self.get_ref();
        self.registration
            .poll_io_len(cx, Direction::Write, len, || op(io))
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> AsyncRead for Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_with(cx, |mut io| io.read(buf))
    }
}

impl<T: AsFd> AsyncWrite for Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |mut io| io.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_with(cx, |mut io| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T: AsFd + std::fmt::Debug> std::fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Async").field("io", &self.io).finish()
    }
}
