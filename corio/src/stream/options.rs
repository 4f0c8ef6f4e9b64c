//! `ServerOptions`: how a server binds, how long a TLS handshake may take,
//! and how long a dropped writer may linger.

use std::time::Duration;

use crate::net::BindOptions;

/// asyncio's default `ssl_handshake_timeout`: 60 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a dropped [`StreamWriter`](super::StreamWriter) may go on
/// flushing to a peer that does not read before the connection is aborted:
/// 30 s.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(30);

/// Settings of a server ([`start_server_with`](super::start_server_with),
/// `corio::tls::start_server_tls_with`).
///
/// ```
/// use std::time::Duration;
/// use corio::stream::ServerOptions;
/// let options = ServerOptions::default()
///     .handshake_timeout(Duration::from_secs(10))
///     .linger(Duration::from_secs(5));
/// assert_eq!(options.linger, Duration::from_secs(5));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Socket options of the listening sockets.
    pub bind: BindOptions,
    /// How long a TLS client may take to complete its handshake before its
    /// connection is closed (asyncio's `ssl_handshake_timeout`, 60 s). A
    /// client that connects and sends nothing holds a descriptor no longer.
    pub handshake_timeout: Duration,
    /// How long a connection's dropped writer may go on flushing before the
    /// connection is aborted ([`DEFAULT_LINGER`]). Until then the
    /// connection counts in [`Server::connections`](super::Server::connections)
    /// and [`Server::abort_clients`](super::Server::abort_clients) reaches it.
    pub linger: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            bind: BindOptions::default(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            linger: DEFAULT_LINGER,
        }
    }
}

impl From<BindOptions> for ServerOptions {
    fn from(bind: BindOptions) -> Self {
        ServerOptions {
            bind,
            ..ServerOptions::default()
        }
    }
}

impl ServerOptions {
    /// Sets the listening sockets' options.
    pub fn bind(mut self, bind: BindOptions) -> Self {
        self.bind = bind;
        self
    }

    /// Sets the TLS handshake timeout.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets how long a dropped writer may linger.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }
}
