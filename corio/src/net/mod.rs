//! Sockets on the loop's reactor: TCP, UDP, Unix stream and datagram
//! sockets, and name resolution off the loop thread ([`lookup_host`]).
//!
//! Every socket is non-blocking and registered once, edge-triggered, with
//! the loop's epoll; a task that would block parks on the socket's
//! readiness. Stream types implement `futures_io::AsyncRead`/`AsyncWrite`.

mod addr;
mod connect;
mod options;
#[macro_use]
mod split;
mod tcp_listener;
mod tcp_stream;
#[cfg(feature = "tokio-io")]
mod tokio_io;
mod udp;
mod unix;

pub use addr::{lookup_host, Resolve, ToSocketAddrs};
pub use options::BindOptions;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, SplitStream, WriteHalf};
pub use tcp_listener::TcpListener;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
