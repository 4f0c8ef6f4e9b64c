//! hyper 1.x on corio (feature `hyper`): [`HyperIo`] adapts corio's byte
//! streams to `hyper::rt::{Read, Write}`, [`CorioExecutor`] spawns hyper's
//! background futures on the loop (they need not be `Send`), and
//! [`CorioTimer`] gives hyper its timers.
//!
//! ```
//! use corio::hyper::{CorioExecutor, CorioTimer, HyperIo};
//! # let _ = (CorioExecutor, CorioTimer);
//! # fn wrap(s: corio::net::TcpStream) -> HyperIo<corio::net::TcpStream> { HyperIo::new(s) }
//! ```
//!
//! A server: accept with [`TcpListener`](crate::net::TcpListener), then
//! `hyper::server::conn::http1::Builder::new().timer(CorioTimer)
//! .serve_connection(HyperIo::new(stream), service)` in a spawned task. A
//! client: `hyper::client::conn::http1::handshake(HyperIo::new(stream))`,
//! spawn the connection future, send requests. HTTP/2 takes
//! `CorioExecutor` in its builders.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::ReadBufCursor;

/// A corio byte stream (anything `futures_io::AsyncRead + AsyncWrite`, such
/// as a `TcpStream` or a TLS stream) as hyper's `Read + Write`.
#[derive(Debug)]
pub struct HyperIo<T> {
    inner: T,
    /// hyper hands out uninitialized buffers; reading into this initialized
    /// one and copying keeps the adapter free of `unsafe`.
    scratch: Box<[u8]>,
}

impl<T> HyperIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> HyperIo<T> {
        HyperIo {
            inner,
            scratch: vec![0u8; 16 * 1024].into_boxed_slice(),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(this.scratch.len());
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        let n =
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.scratch[..want]))?;
        buf.put_slice(&this.scratch[..n]);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

/// Runs hyper's background futures (connection drivers, HTTP/2 streams) as
/// corio tasks; they need not be `Send`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CorioExecutor;

impl<F> hyper::rt::Executor<F> for CorioExecutor
where
    F: Future + 'static,
{
    fn execute(&self, future: F) {
        crate::spawn(future).detach();
    }
}

/// hyper's timers on the corio loop. corio's `Sleep` is `Send + Sync` (it
/// holds only a deadline and a timer key), as hyper requires.
#[derive(Clone, Copy, Debug, Default)]
pub struct CorioTimer;

struct HyperSleep(crate::time::Sleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for CorioTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(mut ours) => ours.0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
