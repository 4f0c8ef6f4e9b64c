//! The client's connection: plain TCP or (feature `tls`) TLS over it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::net::TcpStream;

#[cfg(feature = "tls")]
type TlsConfig = std::sync::Arc<crate::tls::rustls::ClientConfig>;
#[cfg(not(feature = "tls"))]
type TlsConfig = std::convert::Infallible;

/// A client connection.
pub(crate) enum ClientStream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::ClientTlsStream<TcpStream>>),
}

impl ClientStream {
    /// Connects to `host:port`, then (for `https`) completes a TLS
    /// handshake offering HTTP/2 and HTTP/1.1 by ALPN.
    pub(crate) async fn connect(
        https: bool,
        host: &str,
        port: u16,
        tls: Option<TlsConfig>,
    ) -> io::Result<ClientStream> {
        let tcp = TcpStream::connect((host, port)).await?;
        let _ = tcp.set_nodelay(true);
        if !https {
            return Ok(ClientStream::Plain(tcp));
        }
        #[cfg(feature = "tls")]
        {
            let config = tls.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "https needs a TLS client config: ClientBuilder::tls_config",
                )
            })?;
            let config = if config.alpn_protocols.is_empty() {
                let mut with_alpn = (*config).clone();
                with_alpn.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                std::sync::Arc::new(with_alpn)
            } else {
                config
            };
            let name = crate::tls::rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let tls = crate::tls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok(ClientStream::Tls(Box::new(tls)))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = tls;
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "https needs corio's `tls` feature",
            ))
        }
    }

    /// Whether TLS negotiated HTTP/2.
    pub(crate) fn negotiated_h2(&self) -> bool {
        match self {
            ClientStream::Plain(_) => false,
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => tls.get_ref().1.alpn_protocol() == Some(b"h2"),
        }
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_close(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}
