//! asyncio's streams: [`open_connection`] and [`start_server`] give a
//! [`StreamReader`] (buffered `read_line`, `read_until`, `read_exact`, ...)
//! and a [`StreamWriter`] (`write`, `drain` with water marks, `close`).
//!
//! ```
//! use corio::stream::{open_connection, start_server};
//! corio::run(async {
//!     let server = start_server(|mut reader, writer| async move {
//!         let name = reader.read_line().await.unwrap();
//!         writer.write(b"hello ").unwrap();
//!         writer.write(&name).unwrap();
//!         writer.drain().await.unwrap();
//!     }, "127.0.0.1:0").await.unwrap();
//!     let addr = server.local_addrs()[0].inet().unwrap();
//!
//!     let (mut reader, writer) = open_connection(addr).await.unwrap();
//!     writer.write(b"corio\n").unwrap();
//!     assert_eq!(reader.read_line().await.unwrap(), b"hello corio\n");
//! });
//! ```

pub(crate) mod connection;
mod error;
mod options;
mod reader;
pub(crate) mod server;
pub(crate) mod writer;

use std::io;
use std::path::Path;

pub use error::StreamError;
pub use options::{ServerOptions, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_LINGER};
pub use reader::{StreamReader, DEFAULT_LIMIT};
pub use server::{start_server, start_server_with, start_unix_server, Server};
pub use writer::{StreamWriter, DEFAULT_HIGH_WATER};

use crate::net::{TcpStream, ToSocketAddrs, UnixStream};

/// An address at either end of a stream.
#[derive(Clone, Debug)]
pub enum PeerAddr {
    /// An IP address and port.
    Inet(std::net::SocketAddr),
    /// A Unix socket address.
    Unix(std::os::unix::net::SocketAddr),
}

/// Connects to `addr` (trying each resolved address in turn) and returns
/// the connection's reader and writer (asyncio's `open_connection`).
pub async fn open_connection(addr: impl ToSocketAddrs) -> io::Result<(StreamReader, StreamWriter)> {
    Ok(connection::tcp(TcpStream::connect(addr).await?))
}

/// Connects to the Unix socket at `path` (asyncio's `open_unix_connection`).
pub async fn open_unix_connection(
    path: impl AsRef<Path>,
) -> io::Result<(StreamReader, StreamWriter)> {
    Ok(connection::unix(UnixStream::connect(path).await?))
}
