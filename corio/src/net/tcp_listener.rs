//! `TcpListener`.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::addr::{each_addr, ToSocketAddrs};
use super::{BindOptions, TcpStream};
use crate::io::Async;

/// A TCP socket listening for connections.
///
/// ```
/// use corio::net::{TcpListener, TcpStream};
/// corio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = corio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
///     let (_server_side, peer) = listener.accept().await.unwrap();
///     let client = client.await.unwrap();
///     assert_eq!(peer, client.local_addr().unwrap());
/// });
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: Async<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` with the default [`BindOptions`]; a name resolving to
    /// several addresses binds the first that works.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::bind_with(addr, BindOptions::default()).await
    }

    /// Binds to `addr` with the given socket options.
    pub async fn bind_with(
        addr: impl ToSocketAddrs,
        options: BindOptions,
    ) -> io::Result<TcpListener> {
        each_addr(
            addr,
            |addr| async move { TcpListener::bind_addr(addr, options) },
        )
        .await
    }

    /// Binds to one address, synchronously (binding never blocks).
    pub fn bind_addr(addr: SocketAddr, options: BindOptions) -> io::Result<TcpListener> {
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        )?;
        if options.reuse_address {
            socket.set_reuse_address(true)?;
        }
        if options.reuse_port {
            socket.set_reuse_port(true)?;
        }
        if addr.is_ipv6() {
            // Like asyncio: an IPv6 socket serves only IPv6, so binding both
            // families of a dual-stack name does not collide.
            socket.set_only_v6(true)?;
        }
        socket.bind(&addr.into())?;
        socket.listen(options.backlog.min(i32::MAX as u32) as i32)?;
        TcpListener::from_std(socket.into())
    }

    /// Wraps a bound, listening std listener (made non-blocking here).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Async::new(listener)?,
        })
    }

    /// Waits for a connection; returns it and the peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.io.read_with(|listener| listener.accept()).await?;
        Ok((TcpStream::from_std(stream)?, peer))
    }

    /// The address the listener is bound to (with the real port after
    /// binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.as_fd()
    }
}
