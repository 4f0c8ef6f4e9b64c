//! `corio::http::Client` against local servers that count their
//! connections: keep-alive reuse, the per-host limit, HTTP/2 multiplexing,
//! https with ALPN, timeouts and typed errors.

use std::cell::Cell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use corio::http::{Client, ClientError};
use corio::hyper::{CorioExecutor, CorioTimer, HyperIo};
use corio::net::TcpListener;
use corio::{spawn, timeout};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

mod common;
use common::raise_fd_limit;

type Reply = Result<Response<Full<Bytes>>, Infallible>;

async fn app(req: Request<Incoming>) -> Reply {
    match req.uri().path() {
        "/hang" => std::future::pending().await,
        "/redirect" => {
            let mut res = Response::new(Full::default());
            *res.status_mut() = StatusCode::FOUND;
            res.headers_mut()
                .insert("location", "/elsewhere".parse().unwrap());
            Ok(res)
        }
        path => {
            // A little wait, so concurrent requests really overlap.
            corio::sleep(Duration::from_millis(2)).await;
            Ok(Response::new(Full::from(format!("hello {path}"))))
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Http1,
    Http2,
}

/// A server that counts the connections it accepted.
async fn counting_server(proto: Proto) -> (SocketAddr, Rc<Cell<u32>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Rc::new(Cell::new(0));
    let count = accepted.clone();
    spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            count.set(count.get() + 1);
            spawn(async move {
                let io = HyperIo::new(stream);
                let _ = match proto {
                    Proto::Http1 => {
                        hyper::server::conn::http1::Builder::new()
                            .timer(CorioTimer)
                            .serve_connection(io, service_fn(app))
                            .await
                    }
                    Proto::Http2 => {
                        hyper::server::conn::http2::Builder::new(CorioExecutor)
                            .timer(CorioTimer)
                            .serve_connection(io, service_fn(app))
                            .await
                    }
                };
            })
            .detach();
        }
    })
    .detach();
    (addr, accepted)
}

async fn text(res: Response<corio::http::PooledBody>) -> String {
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[corio::test]
async fn http1_connections_are_reused_and_bounded_per_host() {
    raise_fd_limit();
    let (addr, accepted) = counting_server(Proto::Http1).await;
    let client: Client = Client::builder().max_connections_per_host(8).build();
    let requests: Vec<_> = (0..300)
        .map(|i| {
            let client = client.clone();
            spawn(async move {
                let uri = format!("http://{addr}/{i}").parse().unwrap();
                let res = client.get(uri).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                assert_eq!(text(res).await, format!("hello /{i}"));
            })
        })
        .collect();
    for r in requests {
        timeout(Duration::from_secs(20), r).await.unwrap().unwrap();
    }
    let opened = client.connections_opened(false, "127.0.0.1", addr.port());
    assert!(
        accepted.get() <= 8,
        "{} connections for a limit of 8",
        accepted.get()
    );
    assert_eq!(u64::from(accepted.get()), opened);
    // One after another: the pooled connections serve them all.
    for i in 0..50 {
        let uri = format!("http://{addr}/again-{i}").parse().unwrap();
        assert_eq!(
            text(client.get(uri).await.unwrap()).await,
            format!("hello /again-{i}")
        );
    }
    assert_eq!(
        u64::from(accepted.get()),
        opened,
        "a new connection for a sequential request"
    );
}

#[corio::test]
async fn http2_multiplexes_every_request_on_one_connection() {
    let (addr, accepted) = counting_server(Proto::Http2).await;
    let client: Client = Client::builder().http2_prior_knowledge(true).build();
    let requests: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            spawn(async move {
                let uri = format!("http://{addr}/h2-{i}").parse().unwrap();
                let res = client.get(uri).await.unwrap();
                assert_eq!(res.version(), hyper::Version::HTTP_2);
                assert_eq!(text(res).await, format!("hello /h2-{i}"));
            })
        })
        .collect();
    for r in requests {
        timeout(Duration::from_secs(20), r).await.unwrap().unwrap();
    }
    assert_eq!(accepted.get(), 1);
}

#[corio::test]
async fn errors_are_typed_and_redirects_are_not_followed() {
    let (addr, _) = counting_server(Proto::Http1).await;
    let client: Client = Client::builder()
        .request_timeout(Some(Duration::from_millis(200)))
        .build();
    let res = client
        .get(format!("http://{addr}/redirect").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let hung = client
        .get(format!("http://{addr}/hang").parse().unwrap())
        .await;
    assert!(
        matches!(hung, Err(ClientError::RequestTimeout(_))),
        "{hung:?}"
    );
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = client
        .get(format!("http://127.0.0.1:{port}/").parse().unwrap())
        .await;
    assert!(
        matches!(refused, Err(ClientError::Connect(_))),
        "{refused:?}"
    );
    let wrong = client.get("ftp://127.0.0.1/".parse().unwrap()).await;
    assert!(
        matches!(wrong, Err(ClientError::InvalidUri(_))),
        "{wrong:?}"
    );
    // The pool still works after all that.
    let res = client
        .get(format!("http://{addr}/ok").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(text(res).await, "hello /ok");
}

#[cfg(feature = "tls")]
#[corio::test]
async fn https_negotiates_http2_by_alpn() {
    use std::sync::Arc;

    use corio::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use corio::tls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

    let provider = || Arc::new(rustls::crypto::ring::default_provider());
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(generated.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let mut server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client_tls = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = corio::tls::TlsAcceptor::from(Arc::new(server));
    let accepted = Rc::new(Cell::new(0));
    let count = accepted.clone();
    spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            count.set(count.get() + 1);
            let acceptor = acceptor.clone();
            spawn(async move {
                let tls = acceptor.accept(stream).await.unwrap();
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                let _ = hyper::server::conn::http2::Builder::new(CorioExecutor)
                    .serve_connection(HyperIo::new(tls), service_fn(app))
                    .await;
            })
            .detach();
        }
    })
    .detach();

    let client: Client = Client::builder().tls_config(Arc::new(client_tls)).build();
    let requests: Vec<_> = (0..20)
        .map(|i| {
            let client = client.clone();
            spawn(async move {
                let uri = format!("https://localhost:{port}/tls-{i}").parse().unwrap();
                let res = client.get(uri).await.unwrap();
                assert_eq!(res.version(), hyper::Version::HTTP_2);
                text(res).await
            })
        })
        .collect();
    for (i, r) in requests.into_iter().enumerate() {
        let body = timeout(Duration::from_secs(20), r).await.unwrap().unwrap();
        assert_eq!(body, format!("hello /tls-{i}"));
    }
    assert_eq!(accepted.get(), 1);
}
