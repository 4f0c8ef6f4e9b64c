//! [`UpgradedIo`]: hyper's upgraded connection as a futures-io stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::{Read, ReadBuf, Write};
use hyper::upgrade::Upgraded;

/// A connection hyper handed over after an HTTP upgrade (a WebSocket, a
/// `CONNECT` tunnel), as `futures_io::AsyncRead + AsyncWrite`: what
/// async-tungstenite, `futures::io::copy` and corio's own stream helpers
/// take.
///
/// ```no_run
/// # async fn route(req: hyper::Request<hyper::body::Incoming>) {
/// let upgraded = hyper::upgrade::on(req).await.expect("upgrade");
/// let stream = corio::http::UpgradedIo::new(upgraded);
/// # drop(stream);
/// # }
/// ```
#[derive(Debug)]
pub struct UpgradedIo {
    inner: Upgraded,
}

impl UpgradedIo {
    /// Wraps hyper's upgraded connection.
    pub fn new(inner: Upgraded) -> UpgradedIo {
        UpgradedIo { inner }
    }

    /// hyper's upgraded connection.
    pub fn into_inner(self) -> Upgraded {
        self.inner
    }
}

impl AsyncRead for UpgradedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        match Pin::new(&mut self.get_mut().inner).poll_read(cx, read.unfilled()) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(read.filled().len())),
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for UpgradedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
