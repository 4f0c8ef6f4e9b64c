//! A child's stdin, stdout and stderr as async streams.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::io::Async;

macro_rules! pipe_type {
    ($name:ident, $std:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name {
            io: Async<File>,
        }

        impl $name {
            pub(crate) fn new(pipe: $std) -> io::Result<$name> {
                Ok($name {
                    io: Async::new(File::from(OwnedFd::from(pipe)))?,
                })
            }
        }
    };
}

pipe_type!(
    ChildStdin,
    std::process::ChildStdin,
    "The child's standard input; implements `AsyncWrite`. Drop it to send EOF."
);
pipe_type!(
    ChildStdout,
    std::process::ChildStdout,
    "The child's standard output; implements `AsyncRead`."
);
pipe_type!(
    ChildStderr,
    std::process::ChildStderr,
    "The child's standard error; implements `AsyncRead`."
);

impl ChildStdin {
    /// Writes all of `data`.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.io.write_with(|mut f| f.write(data)).await?;
            data = &data[n..];
        }
        Ok(())
    }
}

macro_rules! reader_impl {
    ($name:ident) => {
        impl $name {
            /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the child
            /// closes the pipe first.
            pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
                let mut filled = 0;
                while filled < buf.len() {
                    let n = self
                        .io
                        .read_with(|mut f| f.read(&mut buf[filled..]))
                        .await?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    filled += n;
                }
                Ok(())
            }

            /// Reads everything until the child closes the pipe.
            pub async fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
                let mut out = Vec::new();
                let mut chunk = vec![0u8; 64 * 1024];
                loop {
                    let n = self.io.read_with(|mut f| f.read(&mut chunk)).await?;
                    if n == 0 {
                        return Ok(out);
                    }
                    out.extend_from_slice(&chunk[..n]);
                }
            }
        }

        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_read_with(cx, |mut f| f.read(buf))
            }
        }
    };
}

reader_impl!(ChildStdout);
reader_impl!(ChildStderr);

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_with(cx, |mut f| f.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
