//! Splitting a TLS stream into halves that two tasks of one loop can use.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// The read half of [`split`].
#[derive(Debug)]
pub struct TlsReadHalf<T> {
    inner: Rc<RefCell<T>>,
}

/// The write half of [`split`].
#[derive(Debug)]
pub struct TlsWriteHalf<T> {
    inner: Rc<RefCell<T>>,
}

/// Splits a stream (typically a TLS stream, which cannot be split at the
/// socket) into a read half and a write half sharing it. Each poll borrows
/// the stream only for its own duration; on one thread the halves never
/// overlap.
///
/// One caveat, shared with every split of a TLS stream: rustls sometimes
/// writes while reading (a key update); if that write must wait, the reading
/// task is the one woken.
pub fn split<T: AsyncRead + AsyncWrite + Unpin>(stream: T) -> (TlsReadHalf<T>, TlsWriteHalf<T>) {
    let inner = Rc::new(RefCell::new(stream));
    (
        TlsReadHalf {
            inner: inner.clone(),
        },
        TlsWriteHalf { inner },
    )
}

impl<T> TlsWriteHalf<T> {
    pub(crate) fn shared(&self) -> Rc<RefCell<T>> {
        self.inner.clone()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TlsReadHalf<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.inner.borrow_mut()).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TlsWriteHalf<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.inner.borrow_mut()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner.borrow_mut()).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner.borrow_mut()).poll_close(cx)
    }
}
