//! TLS over corio streams with rustls (feature `tls`), as asyncio offers
//! `ssl=` on `open_connection` / `start_server`.
//!
//! Built on `futures-rustls` with rustls's `ring` crypto provider. Configure
//! with [`rustls`] (re-exported): a `ClientConfig` with the roots you trust,
//! a `ServerConfig` with your certificate chain and key.

mod split;

use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::rc::Rc;
use std::sync::Arc;

pub use futures_rustls::client::TlsStream as ClientTlsStream;
pub use futures_rustls::rustls;
pub use futures_rustls::server::TlsStream as ServerTlsStream;
pub use futures_rustls::{TlsAcceptor, TlsConnector};
pub use split::{split, TlsReadHalf, TlsWriteHalf};

use crate::net::{TcpStream, ToSocketAddrs};
use crate::stream::server::{bind_all, serve, Accepted, Upgrade};
use crate::stream::{
    PeerAddr, Server, ServerOptions, StreamReader, StreamWriter, DEFAULT_HANDSHAKE_TIMEOUT,
};

/// A handshake that took longer than `limit`.
fn handshake_timed_out(limit: std::time::Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the TLS handshake did not complete within {limit:?}"),
    )
}

/// Connects over TCP and completes a TLS handshake, checking the server's
/// certificate against `server_name`. The handshake may take
/// [`DEFAULT_HANDSHAKE_TIMEOUT`] (60 s, asyncio's default) at most: then
/// `ErrorKind::TimedOut`. (Bound the connect itself with
/// [`timeout`](crate::timeout).)
pub async fn connect(
    addr: impl ToSocketAddrs,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
) -> io::Result<ClientTlsStream<TcpStream>> {
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad TLS server name {server_name:?}: {e}"),
        )
    })?;
    let tcp = TcpStream::connect(addr).await?;
    let _ = tcp.set_nodelay(true);
    crate::timeout(
        DEFAULT_HANDSHAKE_TIMEOUT,
        TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| handshake_timed_out(DEFAULT_HANDSHAKE_TIMEOUT))?
}

/// asyncio's `open_connection(..., ssl=...)`: TCP + TLS, as a reader/writer pair.
pub async fn open_connection_tls(
    addr: impl ToSocketAddrs,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
) -> io::Result<(StreamReader, StreamWriter)> {
    let tls = connect(addr, server_name, config).await?;
    let peer = tls.get_ref().0.peer_addr().ok().map(PeerAddr::Inet);
    let local = tls.get_ref().0.local_addr().ok().map(PeerAddr::Inet);
    Ok(streams(
        tls,
        |tls: &ClientTlsStream<TcpStream>| tls.get_ref().0.shutdown(Shutdown::Both),
        peer,
        local,
    ))
}

/// asyncio's `start_server(..., ssl=...)`: each connection completes a TLS
/// handshake in its own task, then runs `handler`. A failed handshake ends
/// that connection only; a client that does not complete its handshake
/// within 60 s (asyncio's `ssl_handshake_timeout`) is disconnected. Failed
/// handshakes are reported to the loop's exception handler in debug mode
/// only: the peer controls how many there are.
pub async fn start_server_tls<F, Fut>(
    handler: F,
    addr: impl ToSocketAddrs,
    config: Arc<rustls::ServerConfig>,
) -> io::Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    start_server_tls_with(handler, addr, config, ServerOptions::default()).await
}

/// [`start_server_tls`] with [`ServerOptions`]: the handshake timeout, the
/// linger time of dropped writers, socket options.
pub async fn start_server_tls_with<F, Fut>(
    handler: F,
    addr: impl ToSocketAddrs,
    config: Arc<rustls::ServerConfig>,
    options: ServerOptions,
) -> io::Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let acceptor = TlsAcceptor::from(config);
    let handshake_timeout = options.handshake_timeout;
    let upgrade: Upgrade = Rc::new(move |accepted| {
        let acceptor = acceptor.clone();
        Box::pin(async move {
            let Accepted::Tcp(tcp) = accepted else {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "TLS over Unix sockets is not offered",
                ));
            };
            let _ = tcp.set_nodelay(true);
            let peer = tcp.peer_addr().ok().map(PeerAddr::Inet);
            let local = tcp.local_addr().ok().map(PeerAddr::Inet);
            let tls = crate::timeout(handshake_timeout, acceptor.accept(tcp))
                .await
                .map_err(|_| handshake_timed_out(handshake_timeout))??;
            Ok(streams(
                tls,
                |tls: &ServerTlsStream<TcpStream>| tls.get_ref().0.shutdown(Shutdown::Both),
                peer,
                local,
            ))
        })
    });
    Ok(serve(
        bind_all(addr, options.bind).await?,
        handler,
        upgrade,
        None,
        &options,
    ))
}

fn streams<T>(
    tls: T,
    shutdown: fn(&T) -> io::Result<()>,
    peer: Option<PeerAddr>,
    local: Option<PeerAddr>,
) -> (StreamReader, StreamWriter)
where
    T: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + 'static,
{
    let (read, write) = split(tls);
    let shared = write.shared();
    let closer: Box<dyn Fn()> = Box::new(move || {
        let _ = shutdown(&shared.borrow());
    });
    (
        StreamReader::new(read),
        StreamWriter::with_parts(Box::new(write), Some(closer), peer, local),
    )
}
