//! [`Client`]: a pooled HTTP client on corio, over hyper's connections.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response, Uri};

use super::stream::ClientStream;
use crate::hyper::{CorioExecutor, CorioTimer, HyperIo};
use crate::sync::{OwnedSemaphorePermit, Semaphore};

type BoxError = Box<dyn StdError + Send + Sync>;

/// What a [`Client`] request can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The URI has no host, or a scheme other than `http` (or `https`
    /// with the `tls` feature).
    InvalidUri(String),
    /// Connecting (TCP, then TLS for `https`) failed.
    Connect(io::Error),
    /// Connecting took longer than [`ClientBuilder::connect_timeout`].
    ConnectTimeout(Duration),
    /// No response headers within [`ClientBuilder::request_timeout`].
    RequestTimeout(Duration),
    /// The connection failed while sending the request or reading the
    /// response.
    Http(hyper::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::InvalidUri(why) => write!(f, "invalid URI for the client: {why}"),
            ClientError::Connect(err) => write!(f, "could not connect: {err}"),
            ClientError::ConnectTimeout(limit) => {
                write!(f, "connecting took longer than {limit:?}")
            }
            ClientError::RequestTimeout(limit) => {
                write!(f, "no response headers within {limit:?}")
            }
            ClientError::Http(err) => write!(f, "HTTP error: {err}"),
        }
    }
}

impl StdError for ClientError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ClientError::Connect(err) => Some(err),
            ClientError::Http(err) => Some(err),
            _ => None,
        }
    }
}

/// Where connections go: scheme, host, port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn of(uri: &Uri) -> Result<Origin, ClientError> {
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") if cfg!(feature = "tls") => true,
            Some("https") => {
                return Err(ClientError::InvalidUri(
                    "https needs corio's `tls` feature".to_owned(),
                ))
            }
            other => {
                return Err(ClientError::InvalidUri(format!(
                    "scheme {other:?} in {uri} (http or https)"
                )))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| ClientError::InvalidUri(format!("no host in {uri}")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }
}

/// Settings for a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    max_connections_per_host: usize,
    http2_prior_knowledge: bool,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<crate::tls::rustls::ClientConfig>>,
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder {
            connect_timeout: Duration::from_secs(30),
            request_timeout: Some(Duration::from_secs(300)),
            max_connections_per_host: 16,
            http2_prior_knowledge: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ClientBuilder {
    /// How long connecting (TCP, and TLS for `https`) may take; 30 s by
    /// default.
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
    }

    /// How long a request may wait for its response headers (connecting
    /// and waiting for a pooled connection included); 300 s by default
    /// (aiohttp's total timeout), `None` for no limit. Reading the body is
    /// bounded by the caller (wrap it in [`timeout`](crate::timeout)).
    pub fn request_timeout(mut self, limit: Option<Duration>) -> Self {
        self.request_timeout = limit;
        self
    }

    /// At most `limit` HTTP/1 connections to one host (16 by default):
    /// further requests wait for one to come back to the pool.
    pub fn max_connections_per_host(mut self, limit: usize) -> Self {
        self.max_connections_per_host = limit.max(1);
        self
    }

    /// Speak HTTP/2 to `http://` hosts without negotiating (one connection
    /// per host, requests multiplexed on it). `https://` hosts use HTTP/2
    /// when the server picks it by ALPN.
    pub fn http2_prior_knowledge(mut self, yes: bool) -> Self {
        self.http2_prior_knowledge = yes;
        self
    }

    /// The TLS settings for `https://` (feature `tls`); by default, the
    /// Mozilla root certificates (webpki-roots are not bundled: pass a
    /// config to reach public hosts).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: std::sync::Arc<crate::tls::rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The client.
    pub fn build<B>(self) -> Client<B> {
        Client {
            inner: Rc::new(Inner {
                config: self,
                pools: RefCell::new(HashMap::new()),
            }),
        }
    }
}

/// A pooled HTTP client: HTTP/1.1 connections kept alive and reused per
/// host (at most [`max_connections_per_host`](ClientBuilder::max_connections_per_host)
/// at once), HTTP/2 multiplexed on one connection per host, `http` and
/// (feature `tls`) `https`, connect and request timeouts. Redirects are
/// not followed: a 3xx response is returned as it is. Loop-local: clone it
/// (cheap) for each task.
///
/// ```no_run
/// corio::run(async {
///     let client: corio::http::Client = corio::http::Client::new();
///     let res = client.get("http://127.0.0.1:3000/".parse().unwrap()).await.unwrap();
///     println!("{}", res.status());
/// });
/// ```
pub struct Client<B = Full<Bytes>> {
    inner: Rc<Inner<B>>,
}

impl<B> Clone for Client<B> {
    fn clone(&self) -> Self {
        Client {
            inner: self.inner.clone(),
        }
    }
}

impl<B> fmt::Debug for Client<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("hosts", &self.inner.pools.borrow().len())
            .finish()
    }
}

struct Inner<B> {
    config: ClientBuilder,
    pools: RefCell<HashMap<Origin, Rc<Pool<B>>>>,
}

/// One host's connections.
struct Pool<B> {
    /// Idle HTTP/1 connections, most recently used last.
    idle: RefCell<Vec<http1::SendRequest<B>>>,
    /// The HTTP/2 connection, once there is one.
    h2: RefCell<Option<http2::SendRequest<B>>>,
    /// One permit per HTTP/1 request in flight (so per connection in use).
    permits: Rc<Semaphore>,
    /// Connections opened so far (for tests and curiosity).
    opened: std::cell::Cell<u64>,
    /// Whether the host turned out to speak HTTP/1 only (known after the
    /// first connection to an `https` or prior-knowledge host).
    http1_only: std::cell::Cell<bool>,
    /// Set while a connection that may turn out HTTP/2 is being made:
    /// other requests wait for it instead of opening their own.
    connecting: RefCell<Option<Rc<crate::sync::Event>>>,
}

/// Clears the pool's `connecting` mark and wakes the waiters, however the
/// connect ends (cancelled included).
struct ConnectingGuard<'a, B>(&'a Pool<B>, Rc<crate::sync::Event>);

impl<B> Drop for ConnectingGuard<'_, B> {
    fn drop(&mut self) {
        self.0.connecting.borrow_mut().take();
        self.1.set();
    }
}

impl Client<Full<Bytes>> {
    /// Settings for a new client (one sending other request body types:
    /// `ClientBuilder::default().build::<B>()`).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client with the default settings ([`ClientBuilder`]).
    pub fn new() -> Client<Full<Bytes>> {
        ClientBuilder::default().build()
    }

    /// `GET uri`.
    pub async fn get(&self, uri: Uri) -> Result<Response<PooledBody>, ClientError> {
        let req = Request::get(uri)
            .body(Full::default())
            .map_err(|e| ClientError::InvalidUri(e.to_string()))?;
        self.request(req).await
    }
}

impl Default for Client<Full<Bytes>> {
    fn default() -> Self {
        Client::new()
    }
}

impl<B> Client<B>
where
    B: Body + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// How many connections this client opened to `host:port` so far.
    pub fn connections_opened(&self, https: bool, host: &str, port: u16) -> u64 {
        let origin = Origin {
            https,
            host: host.to_owned(),
            port,
        };
        self.inner
            .pools
            .borrow()
            .get(&origin)
            .map_or(0, |p| p.opened.get())
    }

    /// Sends `req` (an absolute URI) and returns the response once its
    /// headers arrived; the body streams after. An HTTP/1 connection goes
    /// back to the pool when the body has been read to the end (dropping
    /// the body early closes that connection).
    pub async fn request(&self, mut req: Request<B>) -> Result<Response<PooledBody>, ClientError> {
        let origin = Origin::of(req.uri())?;
        if !req.headers().contains_key(hyper::header::HOST) {
            let host = match req.uri().port_u16() {
                Some(port) => format!("{}:{port}", origin.host),
                None => origin.host.clone(),
            };
            if let Ok(value) = host.parse() {
                req.headers_mut().insert(hyper::header::HOST, value);
            }
        }
        let work = self.send(origin, req);
        match self.inner.config.request_timeout {
            Some(limit) => crate::timeout(limit, work)
                .await
                .map_err(|_| ClientError::RequestTimeout(limit))?,
            None => work.await,
        }
    }

    fn pool(&self, origin: &Origin) -> Rc<Pool<B>> {
        let mut pools = self.inner.pools.borrow_mut();
        pools
            .entry(origin.clone())
            .or_insert_with(|| {
                Rc::new(Pool {
                    idle: RefCell::new(Vec::new()),
                    h2: RefCell::new(None),
                    permits: Rc::new(Semaphore::new(self.inner.config.max_connections_per_host)),
                    opened: std::cell::Cell::new(0),
                    http1_only: std::cell::Cell::new(false),
                    connecting: RefCell::new(None),
                })
            })
            .clone()
    }

    async fn send(
        &self,
        origin: Origin,
        mut req: Request<B>,
    ) -> Result<Response<PooledBody>, ClientError> {
        let pool = self.pool(&origin);
        let may_be_h2 = origin.https || self.inner.config.http2_prior_knowledge;
        let mut fresh = None;
        loop {
            // HTTP/2: one shared connection, if it is still up.
            let h2 = pool.h2.borrow().clone();
            if let Some(mut sender) = h2 {
                if !sender.is_closed() {
                    let res = sender.send_request(req).await.map_err(ClientError::Http)?;
                    return Ok(res.map(|body| PooledBody::new(body, None)));
                }
                pool.h2.borrow_mut().take();
            }
            if !may_be_h2 || pool.http1_only.get() {
                break;
            }
            // Until the host's protocol is known, one connection at a time.
            let pending = pool.connecting.borrow().clone();
            if let Some(pending) = pending {
                pending.wait().await;
                continue;
            }
            let event = Rc::new(crate::sync::Event::new());
            *pool.connecting.borrow_mut() = Some(event.clone());
            let _guard = ConnectingGuard(&pool, event);
            match self.connect(&origin, &pool).await? {
                Connected::Http2(sender) => *pool.h2.borrow_mut() = Some(sender),
                Connected::Http1(sender) => {
                    pool.http1_only.set(true);
                    fresh = Some(sender);
                    break;
                }
            }
        }
        // HTTP/1 requests in flight are bounded per host.
        let permit = pool.permits.acquire_owned().await;
        // A pooled connection whose previous response was read to the end
        // (the one just made, if any, joins them: it is the newest).
        if let Some(sender) = fresh.take() {
            pool.idle.borrow_mut().push(sender);
        }
        loop {
            let sender = pool.idle.borrow_mut().pop();
            let Some(mut sender) = sender else { break };
            if sender.is_closed() || sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(res) => return Ok(self.pooled(res, sender, &pool, permit)),
                // Closed before it took the request: try another.
                Err(mut err) => match err.take_message() {
                    Some(back) => req = back,
                    None => return Err(ClientError::Http(err.into_error())),
                },
            }
        }
        let mut sender = match self.connect(&origin, &pool).await? {
            Connected::Http1(sender) => sender,
            Connected::Http2(sender) => {
                // A prior-knowledge or ALPN host seen as HTTP/1 before
                // now speaks HTTP/2: share it from here on.
                drop(permit);
                pool.http1_only.set(false);
                *pool.h2.borrow_mut() = Some(sender.clone());
                let mut sender = sender;
                let res = sender.send_request(req).await.map_err(ClientError::Http)?;
                return Ok(res.map(|body| PooledBody::new(body, None)));
            }
        };
        let res = sender.send_request(req).await.map_err(ClientError::Http)?;
        Ok(self.pooled(res, sender, &pool, permit))
    }

    fn pooled(
        &self,
        res: Response<Incoming>,
        sender: http1::SendRequest<B>,
        pool: &Rc<Pool<B>>,
        permit: OwnedSemaphorePermit,
    ) -> Response<PooledBody> {
        let pool = pool.clone();
        let give_back: Box<dyn FnOnce()> = Box::new(move || {
            pool.idle.borrow_mut().push(sender);
            drop(permit);
        });
        res.map(|body| PooledBody::new(body, Some(give_back)))
    }

    async fn connect(&self, origin: &Origin, pool: &Pool<B>) -> Result<Connected<B>, ClientError> {
        let config = &self.inner.config;
        let limit = config.connect_timeout;
        let stream = crate::timeout(
            limit,
            ClientStream::connect(origin.https, &origin.host, origin.port, self.tls()),
        )
        .await
        .map_err(|_| ClientError::ConnectTimeout(limit))?
        .map_err(|err| {
            #[cfg(feature = "tracing")]
            tracing::debug!(host = %origin.host, port = origin.port, error = %err, "connection setup failed");
            ClientError::Connect(err)
        })?;
        pool.opened.set(pool.opened.get() + 1);
        let h2 = stream.negotiated_h2() || (!origin.https && config.http2_prior_knowledge);
        let io = HyperIo::new(stream);
        if h2 {
            let (sender, conn) = http2::Builder::new(CorioExecutor)
                .timer(CorioTimer)
                .handshake(io)
                .await
                .map_err(ClientError::Http)?;
            crate::spawn(async move {
                let _ = conn.await;
            })
            .detach();
            Ok(Connected::Http2(sender))
        } else {
            let (sender, conn) = http1::handshake(io).await.map_err(ClientError::Http)?;
            crate::spawn(async move {
                let _ = conn.await;
            })
            .detach();
            Ok(Connected::Http1(sender))
        }
    }

    #[cfg(feature = "tls")]
    fn tls(&self) -> Option<std::sync::Arc<crate::tls::rustls::ClientConfig>> {
        self.inner.config.tls.clone()
    }

    #[cfg(not(feature = "tls"))]
    fn tls(&self) -> Option<std::convert::Infallible> {
        None
    }
}

enum Connected<B> {
    Http1(http1::SendRequest<B>),
    Http2(http2::SendRequest<B>),
}

/// A response body from a [`Client`]: hyper's `Incoming`, which gives its
/// HTTP/1 connection back to the pool when read to the end.
pub struct PooledBody {
    inner: Incoming,
    give_back: Option<Box<dyn FnOnce()>>,
}

impl fmt::Debug for PooledBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBody")
            .field("inner", &self.inner)
            .field("pooled", &self.give_back.is_some())
            .finish()
    }
}

impl PooledBody {
    fn new(inner: Incoming, give_back: Option<Box<dyn FnOnce()>>) -> PooledBody {
        let mut body = PooledBody { inner, give_back };
        if body.inner.is_end_stream() {
            body.finished();
        }
        body
    }

    fn finished(&mut self) {
        if let Some(give_back) = self.give_back.take() {
            give_back();
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.finished(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.finished(),
            Poll::Ready(Some(Err(_))) => self.give_back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
