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
    fn poll_flush_priv(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
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

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.stream.poll_flush_priv(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                poll_close(&*self.stream, cx)
            }
        }
    };
}

write_impl!(WriteHalf<'a, S>);
write_impl!(OwnedWriteHalf<S>);

/// `poll_close` of a stream socket or its write half: sends what was
/// written (completion mode), then shuts down the write side.
pub(crate) fn poll_close<S: SplitStream>(stream: &S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    std::task::ready!(stream.poll_flush_priv(cx))?;
    Poll::Ready(stream.shutdown_priv(Shutdown::Write))
}

/// What every stream socket (`TcpStream`, `UnixStream`) shares: `read` and
/// `write` from `&self`, sealed `SplitStream`, `AsFd`, `AsyncRead`, and
/// `AsyncWrite` whose `poll_close` shuts down the write side. The type has
/// an `io: SocketIo<T>` field and a `shutdown(&self, Shutdown)` method.
macro_rules! stream_socket_impls {
    ($ty:ty) => {
        impl $ty {
            /// Reads into `buf`; 0 means the peer closed its side. Any
            /// number of tasks may wait at once; each is woken.
            pub fn read<'a>(
                &'a self,
                buf: &'a mut [u8],
            ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
                self.io.read(buf)
            }

            /// Writes some of `buf`; returns how much.
            pub fn write<'a>(
                &'a self,
                buf: &'a [u8],
            ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
                self.io.write(buf)
            }

            /// Whether this socket's reads and writes are io_uring requests
            /// (a loop on [`IoBackend::IoUring`](crate::runtime::IoBackend)
            /// in completion mode, the default there) rather than system
            /// calls made when the loop reports readiness. In completion
            /// mode a write returns once its bytes are copied for sending:
            /// `flush` (or `close`) waits until they were sent.
            pub fn is_completion_based(&self) -> bool {
                self.io.is_completion_based()
            }
        }

        impl $crate::net::split::sealed::Sealed for $ty {}

        impl $crate::net::SplitStream for $ty {
            fn poll_read_priv(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_read(cx, buf)
            }

            fn poll_write_priv(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write(cx, buf)
            }

            fn poll_write_vectored_priv(
                &self,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write_vectored(cx, bufs)
            }

            fn poll_flush_priv(
                &self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.io.poll_flush(cx)
            }

            fn shutdown_priv(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.shutdown(how)
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.as_fd()
            }
        }

        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::SplitStream::poll_read_priv(&*self, cx, buf)
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::SplitStream::poll_write_priv(&*self, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::SplitStream::poll_write_vectored_priv(&*self, cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                $crate::net::SplitStream::poll_flush_priv(&*self, cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                $crate::net::split::poll_close(&*self, cx)
            }
        }
    };
}
