//! `TcpStream`.

use std::io;
use std::net::{Shutdown, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use super::addr::{each_addr, ToSocketAddrs};
use super::connect::connect;
use super::split::{split_owned, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::io::SocketIo;

/// A TCP connection. Implements [`futures_io::AsyncRead`] and [`futures_io::AsyncWrite`]
/// (`poll_close` shuts down the write side).
///
/// ```
/// use corio::net::{TcpListener, TcpStream};
/// use futures::{AsyncReadExt, AsyncWriteExt};
/// corio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     corio::spawn(async move {
///         let (mut conn, _) = listener.accept().await.unwrap();
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf).await.unwrap();
///         conn.write_all(&buf).await.unwrap();
///     })
///     .detach();
///     let mut stream = TcpStream::connect(addr).await.unwrap();
///     stream.write_all(b"hello").await.unwrap();
///     let mut echo = [0; 5];
///     stream.read_exact(&mut echo).await.unwrap();
///     assert_eq!(&echo, b"hello");
/// });
/// ```
#[derive(Debug)]
pub struct TcpStream {
    io: SocketIo<std::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn; the error of
    /// the last one if none accepts (e.g. `ConnectionRefused`).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, TcpStream::connect_addr).await
    }

    /// Connects to one address.
    pub async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        )?;
        let io = connect::<std::net::TcpStream>(socket, &addr.into()).await?;
        Ok(TcpStream {
            io: SocketIo::from_async(io)?,
        })
    }

    /// Wraps a connected std stream (made non-blocking here).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: SocketIo::new(stream)?,
        })
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Reads into `buf` without removing the data from the socket.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.peek(buf, |s, buf| s.peek(buf)).await
    }

    /// Shuts down the read side, the write side (the peer reads EOF), or both.
    /// On io_uring in completion mode, bytes written and not yet sent are
    /// sent first (the write side shuts once they are).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how, |s, how| s.shutdown(how))
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// This side's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Borrowed halves, to read and write from two futures at once.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf { stream: self }, WriteHalf { stream: self })
    }

    /// Owned halves, to read and write from two tasks. Dropping the write
    /// half shuts down the write side.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split_owned(self)
    }
}

stream_socket_impls!(TcpStream);
