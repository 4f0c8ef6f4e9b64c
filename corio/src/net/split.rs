//! Read and write halves of a stream socket (TCP or Unix).

use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use super::TcpStream;

/// A stream socket that can be split into halves: [`TcpStream`] and
/// [`UnixStream`](super::UnixStream). Sealed.
pub trait SplitStream: sealed::Sealed {
    #[doc(hidden)]
    fn poll_read_priv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    #[doc(hidden)]
    fn poll_write_priv(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    #[doc(hidden)]
    fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;
    #[doc(hidden)]
    fn shutdown_priv(&self, how: Shutdown) -> io::Result<()>;
    #[doc(hidden)]
    fn into_split_priv(self) -> (OwnedReadHalf<Self>, OwnedWriteHalf<Self>)
    where
        Self: Sized,
    {
        split_owned(self)
    }
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// The read half of a borrowed `split`.
#[derive(Debug)]
pub struct ReadHalf<'a, S = TcpStream> {
    pub(crate) stream: &'a S,
}

/// The write half of a borrowed `split`.
#[derive(Debug)]
pub struct WriteHalf<'a, S = TcpStream> {
    pub(crate) stream: &'a S,
}

/// The read half of `into_split`.
#[derive(Debug)]
pub struct OwnedReadHalf<S = TcpStream> {
    stream: Rc<S>,
}

/// The write half of `into_split`; dropping it shuts down the write side
/// (the peer reads EOF).
#[derive(Debug)]
pub struct OwnedWriteHalf<S: SplitStream = TcpStream> {
    stream: Rc<S>,
    shutdown_on_drop: bool,
}

pub(crate) fn split_owned<S: SplitStream>(stream: S) -> (OwnedReadHalf<S>, OwnedWriteHalf<S>) {
    let stream = Rc::new(stream);
    (
        OwnedReadHalf {
            stream: stream.clone(),
        },
        OwnedWriteHalf {
            stream,
            shutdown_on_drop: true,
        },
    )
}

impl<S: SplitStream> OwnedReadHalf<S> {
    /// The stream both halves share.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Puts the halves back together; gives them back if they do not match.
    #[allow(clippy::result_large_err)]
    pub fn reunite(
        self,
        mut write: OwnedWriteHalf<S>,
    ) -> Result<S, (OwnedReadHalf<S>, OwnedWriteHalf<S>)> {
        if !Rc::ptr_eq(&self.stream, &write.stream) {
            return Err((self, write));
        }
        write.shutdown_on_drop = false;
        drop(write);
        Ok(Rc::into_inner(self.stream).expect("only the two halves held the stream"))
    }
}

impl<S: SplitStream> OwnedWriteHalf<S> {
    /// The stream both halves share.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Another owner of the shared stream (keeps the socket open).
    pub(crate) fn shared(&self) -> Rc<S> {
        self.stream.clone()
    }
}

impl<S: SplitStream> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.stream.shutdown_priv(Shutdown::Write);
        }
    }
}

impl<S: SplitStream> AsyncRead for ReadHalf<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read_priv(cx, buf)
    }
}

impl<S: SplitStream> AsyncRead for OwnedReadHalf<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.stream.poll_read_priv(cx, buf)
    }
}

macro_rules! write_impl {
    ($ty:ty) => {
        impl<'a, S: SplitStream> AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.stream.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.stream.poll_write_vectored_priv(cx, bufs)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.stream.shutdown_priv(Shutdown::Write))
            }
        }
    };
}

write_impl!(WriteHalf<'a, S>);
write_impl!(OwnedWriteHalf<S>);
