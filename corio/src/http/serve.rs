//! [`serve`]: hyper (and tower) services on a corio listener in one line.

use std::error::Error as StdError;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::server::conn::auto::Builder;

use super::LoopBound;
use crate::hyper::{CorioExecutor, CorioTimer, HyperIo};
use crate::net::TcpListener;
use crate::sync::{Event, Semaphore};
use crate::task::{select, Either};
use crate::Task;

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long connections get to finish after a graceful shutdown begins,
/// unless set with [`Serve::shutdown_deadline`].
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);
/// How long a client may take to send a request's headers, unless set
/// with [`Serve::header_read_timeout`] (hyper's own default).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `service` on every connection `listener` accepts: HTTP/1.1 or
/// HTTP/2 (told apart by the first bytes), with upgrades, until the
/// shutdown signal (if any) fires. Await the returned [`Serve`] (it is
/// `IntoFuture`) to run it; its methods set limits first.
///
/// `service` is a hyper `Service` (`hyper::service::service_fn`, or a tower
/// service such as an axum `Router` through [`tower`](super::tower)); it is
/// cloned for each connection and need not be `Send`.
///
/// ```no_run
/// use std::convert::Infallible;
/// use hyper::{body::Incoming, Request, Response};
///
/// async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
///     Ok(Response::new("hello\n".to_owned()))
/// }
///
/// corio::run(async {
///     let listener = corio::net::TcpListener::bind("127.0.0.1:8080").await?;
///     corio::http::serve(listener, hyper::service::service_fn(hello)).await
/// })
/// .unwrap();
/// ```
pub fn serve<S>(listener: TcpListener, service: S) -> Serve<S> {
    Serve {
        listener,
        service,
        shutdown: None,
        shutdown_deadline: DEFAULT_SHUTDOWN_DEADLINE,
        header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
        max_connections: None,
    }
}

/// A server being configured; await it to run (see [`serve`]).
#[must_use = "a server does nothing until awaited"]
pub struct Serve<S> {
    listener: TcpListener,
    service: S,
    shutdown: Option<Pin<Box<dyn Future<Output = ()>>>>,
    shutdown_deadline: Duration,
    header_read_timeout: Option<Duration>,
    max_connections: Option<usize>,
}

impl<S> std::fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("graceful_shutdown", &self.shutdown.is_some())
            .field("shutdown_deadline", &self.shutdown_deadline)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl<S> Serve<S> {
    /// Shuts down gracefully when `signal` completes: stop accepting,
    /// tell every connection to finish (HTTP/1 closes after the response
    /// in flight, HTTP/2 sends GOAWAY), wait for them up to the
    /// [`shutdown_deadline`](Self::shutdown_deadline), then cancel the rest.
    /// The server's future then completes with `Ok(())`.
    pub fn with_graceful_shutdown(mut self, signal: impl Future<Output = ()> + 'static) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// How long connections may take to finish once a graceful shutdown
    /// begins ([`DEFAULT_SHUTDOWN_DEADLINE`] by default).
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = deadline;
        self
    }

    /// How long an HTTP/1 client may take to send a request's headers
    /// before its connection is closed ([`DEFAULT_HEADER_READ_TIMEOUT`] by
    /// default; `None`: no limit). A slow-headers (slowloris) client holds
    /// a connection no longer than this.
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// At most `limit` connections at once: beyond it the server stops
    /// accepting (new clients wait in the listen backlog) until one
    /// closes. Unlimited by default.
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.max_connections = Some(limit.max(1));
        self
    }
}

impl<S, B> IntoFuture for Serve<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl<S, B> Serve<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    async fn run(self) -> io::Result<()> {
        let Serve {
            listener,
            service,
            shutdown,
            shutdown_deadline,
            header_read_timeout,
            max_connections,
        } = self;
        let mut builder = Builder::new(CorioExecutor);
        builder
            .http1()
            .timer(CorioTimer)
            .header_read_timeout(header_read_timeout);
        builder.http2().timer(CorioTimer);
        let builder = Rc::new(builder);
        let stop = Rc::new(Event::new());
        let limit = max_connections.map(|n| Rc::new(Semaphore::new(n)));
        let mut connections: Vec<Task<()>> = Vec::new();
        let active = Rc::new(Active::default());
        let mut shutdown = shutdown.unwrap_or_else(|| Box::pin(std::future::pending()));
        loop {
            let permit = match &limit {
                Some(limit) => match select(limit.acquire_owned(), shutdown.as_mut()).await {
                    Either::Left(permit) => Some(permit),
                    Either::Right(()) => break,
                },
                None => None,
            };
            let (stream, _peer) = match select(listener.accept(), shutdown.as_mut()).await {
                Either::Left(Ok(accepted)) => accepted,
                Either::Left(Err(err)) => {
                    accept_error(err).await?;
                    continue;
                }
                Either::Right(()) => break,
            };
            let _ = stream.set_nodelay(true);
            let io = HyperIo::new(LoopBound::new(stream));
            let (builder, service, stop) = (builder.clone(), service.clone(), stop.clone());
            let counted = Active::enter(&active);
            let task = crate::spawn(async move {
                let _counted = counted;
                let _permit = permit;
                let mut conn = pin!(builder.serve_connection_with_upgrades(io, service));
                // A connection's own errors (a reset, a malformed request,
                // a header timeout) end that connection only.
                if let Either::Right(()) = select(conn.as_mut(), stop.wait()).await {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            });
            if connections.len() >= 64 && connections.len().is_power_of_two() {
                connections.retain(|t| !t.is_done());
            }
            connections.push(task);
        }
        drop(listener);
        stop.set();
        if crate::timeout(shutdown_deadline, active.idle.wait())
            .await
            .is_err()
        {
            for task in &connections {
                task.cancel();
            }
            // Cancelled tasks drop their connections at their next turn.
            crate::timeout(Duration::from_secs(1), active.idle.wait())
                .await
                .ok();
        }
        Ok(())
    }
}

/// The connections being served, and an event set whenever there are none.
struct Active {
    count: std::cell::Cell<usize>,
    idle: Event,
}

impl Default for Active {
    fn default() -> Active {
        let idle = Event::new();
        idle.set();
        Active {
            count: std::cell::Cell::new(0),
            idle,
        }
    }
}

impl Active {
    /// Counts one more connection until the guard drops (also when its
    /// task is cancelled).
    fn enter(active: &Rc<Active>) -> ActiveGuard {
        active.count.set(active.count.get() + 1);
        active.idle.clear();
        ActiveGuard(active.clone())
    }
}

struct ActiveGuard(Rc<Active>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let count = self.0.count.get() - 1;
        self.0.count.set(count);
        if count == 0 {
            self.0.idle.set();
        }
    }
}

/// What an accept error means for the server: the peer's trouble (the
/// connection is gone: try the next), running out of descriptors or
/// memory (wait a moment: connections closing free them), or a broken
/// listener (the server stops with the error).
async fn accept_error(err: io::Error) -> io::Result<()> {
    #[cfg(feature = "tracing")]
    tracing::debug!(error = %err, "corio::http::serve: accept failed");
    match err.raw_os_error() {
        Some(libc::ECONNABORTED | libc::ECONNRESET | libc::EPROTO | libc::EPERM | libc::EINTR) => {
            Ok(())
        }
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
            crate::sleep(Duration::from_millis(50)).await;
            Ok(())
        }
        _ => Err(err),
    }
}
