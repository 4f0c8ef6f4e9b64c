//! The pieces of the corio demo, reusable and tested: a local HTTP server
//! whose responses take a chosen time, an HTTP(S) client, sequential and
//! concurrent fetching, and a CPU-heavy job.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::hyper::{CorioTimer, HyperIo};
use corio::io::{AsyncRead, AsyncWrite};
use corio::net::{TcpListener, TcpStream};
use corio::sync::Semaphore;
use corio::tls::rustls::{self, pki_types::ServerName, ClientConfig, RootCertStore};
use corio::tls::TlsConnector;
use corio::Task;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, Uri};

/// Any error of a fetch, with its message.
pub type Error = Box<dyn std::error::Error>;

/// How long `/item/N` takes on the slow server: between `min` and `max`,
/// spread over items by a fixed hash (the same every run).
pub fn delay_for(item: u64, min: Duration, max: Duration) -> Duration {
    let spread = (max.as_millis().saturating_sub(min.as_millis()) + 1) as u64;
    let mixed = item.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    min + Duration::from_millis(mixed % spread)
}

/// Starts an HTTP/1 server on loopback whose `/item/N` answers after
/// [`delay_for`]`(N, min, max)`: a stand-in for slow web services.
/// Returns its address and the task serving it (cancel it to stop).
pub async fn start_slow_server(
    min: Duration,
    max: Duration,
) -> std::io::Result<(SocketAddr, Task<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = corio::spawn_named("demo http server", async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            corio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<Incoming>| async move {
                        let item: u64 = req
                            .uri()
                            .path()
                            .rsplit('/')
                            .next()
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0);
                        let delay = delay_for(item, min, max);
                        corio::sleep(delay).await;
                        let body = format!("item {item} after {} ms\n", delay.as_millis());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(CorioTimer)
                    .serve_connection(HyperIo::new(stream), service)
                    .await;
            })
            .detach();
        }
    });
    Ok((addr, server))
}

/// What one fetch brought back.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

/// An HTTP/1 client for `http://` and `https://` URLs (one connection per
/// request, as a crawler or a fan-out service would).
#[derive(Clone)]
pub struct Client {
    tls: Arc<ClientConfig>,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client trusting the Mozilla root certificates (webpki-roots).
    pub fn new() -> Client {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
        Client {
            tls: Arc::new(config),
        }
    }

    /// GETs `url`.
    pub async fn get(&self, url: &Uri) -> Result<Fetched, Error> {
        let https = match url.scheme_str() {
            Some("http") | None => false,
            Some("https") => true,
            Some(other) => return Err(format!("unsupported scheme {other:?} in {url}").into()),
        };
        let host = url.host().ok_or_else(|| format!("no host in {url}"))?;
        let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = url.path_and_query().map_or("/", |p| p.as_str());
        let authority = url.authority().map_or(host, |a| a.as_str());
        let request = Request::get(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, "corio-demo")
            .body(Empty::<Bytes>::new())?;
        let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
        tcp.set_nodelay(true)?;
        if https {
            let name = ServerName::try_from(host.to_owned())?;
            let tls = TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await?;
            send(tls, request).await
        } else {
            send(tcp, request).await
        }
    }
}

async fn send<T>(io: T, request: Request<Empty<Bytes>>) -> Result<Fetched, Error>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(HyperIo::new(io)).await?;
    let driver = corio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    drop(sender);
    let _ = driver.await;
    Ok(Fetched { status, body })
}

/// Fetches `urls` one after another; the results in order and the time taken.
pub async fn fetch_sequential(
    client: &Client,
    urls: &[Uri],
    on_done: impl Fn(),
) -> (Vec<Result<Fetched, Error>>, Duration) {
    let start = Instant::now();
    let mut results = Vec::with_capacity(urls.len());
    for url in urls {
        results.push(client.get(url).await);
        on_done();
    }
    (results, start.elapsed())
}

/// Fetches `urls` concurrently, at most `concurrency` at a time (`gather`
/// bounded by a `Semaphore`); the results in order and the time taken.
pub async fn fetch_concurrent(
    client: &Client,
    urls: &[Uri],
    concurrency: usize,
    on_done: impl Fn(),
) -> (Vec<Result<Fetched, Error>>, Duration) {
    let start = Instant::now();
    let limit = Rc::new(Semaphore::new(concurrency.max(1)));
    let on_done = &on_done;
    let results = corio::gather_all(urls.iter().map(|url| {
        let limit = limit.clone();
        async move {
            let _permit = limit.acquire().await;
            let result = client.get(url).await;
            on_done();
            result
        }
    }))
    .await;
    (results, start.elapsed())
}

/// A CPU-heavy job: counts the primes below `limit` by trial division.
pub fn count_primes(limit: u64) -> u64 {
    (2..limit)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// [`count_primes`] as a process-pool job.
pub static COUNT_PRIMES: corio::executor::Job<u64, u64> =
    corio::executor::Job::new("count_primes", count_primes);
