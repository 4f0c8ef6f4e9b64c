//! `start_server` / `start_unix_server` and `Server`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use slab::Slab;

use super::{connection, PeerAddr, ServerOptions, StreamReader, StreamWriter};
use crate::net::{
    lookup_host, BindOptions, TcpListener, TcpStream, ToSocketAddrs, UnixListener, UnixStream,
};
use crate::sync::Event;
use crate::task::Task;

pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A freshly accepted connection, before it becomes a reader/writer pair.
pub(crate) enum Accepted {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Turns an accepted connection into streams (plain, or after a TLS
/// handshake); runs in the connection's own task.
pub(crate) type Upgrade =
    Rc<dyn Fn(Accepted) -> Pin<Box<dyn Future<Output = io::Result<(StreamReader, StreamWriter)>>>>>;

/// The plain upgrade: no handshake.
pub(crate) fn plain() -> Upgrade {
    Rc::new(|accepted| {
        Box::pin(std::future::ready(Ok(match accepted {
            Accepted::Tcp(s) => connection::tcp(s),
            Accepted::Unix(s) => connection::unix(s),
        })))
    })
}

impl Listener {
    async fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp(l) => Ok(Accepted::Tcp(l.accept().await?.0)),
            Listener::Unix(l) => Ok(Accepted::Unix(l.accept().await?.0)),
        }
    }
}

struct ServerState {
    addrs: Vec<PeerAddr>,
    accept_tasks: RefCell<Vec<Task<()>>>,
    handlers: RefCell<Slab<Task<()>>>,
    closed: Cell<bool>,
    closed_event: Event,
    /// Set whenever no handler runs.
    idle: Event,
    unix_path: Option<PathBuf>,
}

impl ServerState {
    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let tasks: Vec<Task<()>> = self.accept_tasks.borrow_mut().drain(..).collect();
        for task in &tasks {
            // Drops the listener now: the port refuses connections at once.
            crate::task::cancel_now(task);
        }
        if let Some(path) = &self.unix_path {
            let _ = std::fs::remove_file(path);
        }
        self.closed_event.set();
    }
}

/// A running server (asyncio's `Server`), from [`start_server`] or
/// [`start_unix_server`]. It accepts connections in the background and runs
/// the handler for each in its own task.
///
/// Graceful shutdown: [`close`](Server::close) stops accepting (handlers go
/// on), then [`wait_closed`](Server::wait_closed) waits for the handlers to
/// finish. [`abort_clients`](Server::abort_clients) cancels them instead.
/// Dropping the `Server` closes it (handlers go on).
pub struct Server {
    state: Rc<ServerState>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addrs", &self.state.addrs)
            .field("serving", &self.is_serving())
            .field("connections", &self.connections())
            .finish()
    }
}

/// Accepts connections on `addr` and runs `handler(reader, writer)` for each
/// in its own task (asyncio's `start_server`). A name resolving to several
/// addresses (say `localhost` on IPv4 and IPv6) listens on each.
///
/// ```
/// use corio::stream::{open_connection, start_server};
/// corio::run(async {
///     let server = start_server(
///         |mut reader, writer| async move {
///             while let Ok(line) = reader.read_line().await {
///                 if line.is_empty() { break; } // EOF
///                 writer.write(&line).unwrap();
///                 if writer.drain().await.is_err() { break; }
///             }
///         },
///         "127.0.0.1:0",
///     )
///     .await
///     .unwrap();
///     let addr = server.local_addrs()[0].clone();
///     let (mut reader, writer) = open_connection(addr.inet().unwrap()).await.unwrap();
///     writer.write(b"hello\n").unwrap();
///     assert_eq!(reader.read_line().await.unwrap(), b"hello\n");
///     server.close();
///     writer.close();
///     server.wait_closed().await;
/// });
/// ```
pub async fn start_server<F, Fut>(handler: F, addr: impl ToSocketAddrs) -> io::Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    start_server_with(handler, addr, BindOptions::default()).await
}

/// [`start_server`] with [`ServerOptions`] (or just [`BindOptions`], e.g.
/// `SO_REUSEPORT` for one loop per core).
pub async fn start_server_with<F, Fut>(
    handler: F,
    addr: impl ToSocketAddrs,
    options: impl Into<ServerOptions>,
) -> io::Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let options = options.into();
    Ok(serve(
        bind_all(addr, options.bind).await?,
        handler,
        plain(),
        None,
        &options,
    ))
}

/// Binds every address `addr` resolves to (once each).
pub(crate) async fn bind_all(
    addr: impl ToSocketAddrs,
    options: BindOptions,
) -> io::Result<Vec<Listener>> {
    let mut listeners = Vec::new();
    let mut seen = Vec::new();
    for addr in lookup_host(addr).await? {
        if seen.contains(&addr) {
            continue;
        }
        seen.push(addr);
        listeners.push(Listener::Tcp(TcpListener::bind_addr(addr, options)?));
    }
    Ok(listeners)
}

/// Like [`start_server`], on a Unix socket at `path` (removed again when
/// the server closes).
pub async fn start_unix_server<F, Fut>(handler: F, path: impl AsRef<Path>) -> io::Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let path = path.as_ref().to_path_buf();
    let listener = UnixListener::bind(&path)?;
    Ok(serve(
        vec![Listener::Unix(listener)],
        handler,
        plain(),
        Some(path),
        &ServerOptions::default(),
    ))
}

pub(crate) fn serve<F, Fut>(
    listeners: Vec<Listener>,
    handler: F,
    upgrade: Upgrade,
    unix_path: Option<PathBuf>,
    options: &ServerOptions,
) -> Server
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let addrs = listeners
        .iter()
        .filter_map(|l| match l {
            Listener::Tcp(l) => l.local_addr().ok().map(PeerAddr::Inet),
            Listener::Unix(l) => l.local_addr().ok().map(PeerAddr::Unix),
        })
        .collect();
    let idle = Event::new();
    idle.set();
    let state = Rc::new(ServerState {
        addrs,
        accept_tasks: RefCell::new(Vec::new()),
        handlers: RefCell::new(Slab::new()),
        closed: Cell::new(false),
        closed_event: Event::new(),
        idle,
        unix_path,
    });
    let handler = Rc::new(handler);
    let tasks = listeners
        .into_iter()
        .map(|listener| {
            crate::spawn_named(
                "corio server accept",
                accept_loop(
                    listener,
                    handler.clone(),
                    upgrade.clone(),
                    state.clone(),
                    options.linger,
                ),
            )
        })
        .collect();
    *state.accept_tasks.borrow_mut() = tasks;
    Server { state }
}

async fn accept_loop<F, Fut>(
    listener: Listener,
    handler: Rc<F>,
    upgrade: Upgrade,
    state: Rc<ServerState>,
    linger: Duration,
) where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    loop {
        match listener.accept().await {
            Ok(accepted) => {
                let key = state.handlers.borrow().vacant_key();
                let guard = HandlerGuard {
                    state: state.clone(),
                    key,
                };
                state.idle.clear();
                let (handler, upgrade) = (handler.clone(), upgrade.clone());
                let task = crate::spawn(async move {
                    let _guard = guard;
                    match upgrade(accepted).await {
                        Ok((reader, writer)) => {
                            writer.set_linger(linger);
                            // The connection lasts until its writer has
                            // flushed (at most the linger time after the
                            // handler let go of it); aborting the task
                            // aborts the writer.
                            let watch = writer.watch();
                            let _abort_if_cancelled = AbortOnDrop(&watch);
                            handler(reader, writer).await;
                            watch.finished().await;
                        }
                        // A failed TLS handshake ends just this connection;
                        // the peer controls how often, so it is reported
                        // in debug mode only (as asyncio does).
                        Err(e) => {
                            #[cfg(feature = "tracing")]
                            tracing::debug!(error = %e, "server connection setup failed");
                            if crate::runtime::debug_enabled() {
                                crate::runtime::report(format!(
                                    "server connection setup failed: {e}"
                                ));
                            }
                        }
                    }
                });
                state.handlers.borrow_mut().insert(task);
            }
            Err(e) if is_transient(&e) => {}
            Err(e) => {
                // Out of file descriptors or memory: back off instead of spinning
                // (asyncio waits too), and keep serving once it passes.
                crate::runtime::report(format!("server accept failed: {e}; retrying in 100 ms"));
                crate::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::EINTR) | Some(libc::EPROTO) | Some(libc::EPERM)
    )
}

/// Aborts a connection's writer when its task is cancelled (a no-op once
/// the writer finished).
struct AbortOnDrop<'a>(&'a super::writer::WriterWatch);

impl Drop for AbortOnDrop<'_> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Leaves the server's handler list when a handler task ends.
struct HandlerGuard {
    state: Rc<ServerState>,
    key: usize,
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        let removed = self.state.handlers.borrow_mut().try_remove(self.key);
        if let Some(task) = removed {
            task.detach();
        }
        if self.state.handlers.borrow().is_empty() {
            self.state.idle.set();
        }
    }
}

impl Server {
    /// The addresses the server listens on (with the real port after port 0).
    pub fn local_addrs(&self) -> &[PeerAddr] {
        &self.state.addrs
    }

    /// Whether the server still accepts connections.
    pub fn is_serving(&self) -> bool {
        !self.state.closed.get()
    }

    /// Connections open now: handlers running, and connections whose
    /// handler returned while their writer still flushes (for at most the
    /// linger time, [`ServerOptions::linger`]).
    pub fn connections(&self) -> usize {
        self.state.handlers.borrow().len()
    }

    /// Stops accepting and closes the listening sockets; running handlers go on.
    pub fn close(&self) {
        self.state.close();
    }

    /// Cancels every running handler and aborts every connection (also
    /// those whose dropped writer still flushes), as asyncio's
    /// `abort_clients` does.
    pub fn abort_clients(&self) {
        for (_, task) in self.state.handlers.borrow().iter() {
            task.cancel();
        }
    }

    /// Waits until the server is closed and every handler has finished.
    pub async fn wait_closed(&self) {
        self.state.closed_event.wait().await;
        while !self.state.handlers.borrow().is_empty() {
            self.state.idle.wait().await;
        }
    }

    /// Serves until [`close`](Server::close) is called; if this future is
    /// dropped (its task cancelled), the server closes, as asyncio's
    /// `serve_forever` does on cancellation.
    pub async fn serve_forever(&self) {
        struct CloseOnDrop<'a>(&'a ServerState);
        impl Drop for CloseOnDrop<'_> {
            fn drop(&mut self) {
                self.0.close();
            }
        }
        let _guard = CloseOnDrop(&self.state);
        self.state.closed_event.wait().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.close();
    }
}

/// The first TCP address of a server, for tests and examples.
impl PeerAddr {
    /// The IP address and port, for an Internet socket.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Inet(addr) => Some(*addr),
            PeerAddr::Unix(_) => None,
        }
    }
}
