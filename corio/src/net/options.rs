//! Socket options for listeners: reuse address/port and backlog.

/// How [`TcpListener::bind_with`](super::TcpListener::bind_with) sets up a
/// listening socket.
///
/// The defaults are asyncio's on Unix: `SO_REUSEADDR` on (so a restarted
/// server can bind at once), `SO_REUSEPORT` off, backlog 1024 (tokio's;
/// asyncio's is 100).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindOptions {
    /// `SO_REUSEADDR`.
    pub reuse_address: bool,
    /// `SO_REUSEPORT`: several sockets (one loop per core) share the port
    /// and the kernel balances connections among them.
    pub reuse_port: bool,
    /// The `listen(2)` backlog.
    pub backlog: u32,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            reuse_address: true,
            reuse_port: false,
            backlog: 1024,
        }
    }
}
