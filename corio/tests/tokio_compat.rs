//! tokio-bound crates on corio through `corio::compat::tokio`: reqwest
//! against a local server, tower's timeout layer, and the hint corio adds
//! to tokio's "no reactor" panic.

use std::convert::Infallible;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use corio::net::TcpListener;
use corio::{spawn, TaskError};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};

async fn app(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/hang" {
        std::future::pending::<()>().await;
    }
    Ok(Response::new(Full::from(format!(
        "hello {}",
        req.uri().path()
    ))))
}

async fn server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    spawn(corio::http::serve(listener, service_fn(app)).into_future()).detach();
    addr
}

#[corio::test]
async fn reqwest_runs_on_corio_through_compat() {
    let addr = server().await;
    let client = reqwest::Client::new();
    for i in 0..50 {
        let url = format!("http://{addr}/{i}");
        let client = client.clone();
        let body = corio::compat::tokio(async move { client.get(url).send().await?.text().await })
            .await
            .unwrap();
        assert_eq!(body, format!("hello /{i}"));
    }
    // Concurrent calls from many corio tasks.
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            spawn(corio::compat::tokio(async move {
                client
                    .get(format!("http://{addr}/c{i}"))
                    .send()
                    .await?
                    .text()
                    .await
            }))
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), format!("hello /c{i}"));
    }
}

#[corio::test]
async fn without_compat_the_panic_says_where_to_look() {
    let addr = server().await;
    let call = spawn(async move { reqwest::get(format!("http://{addr}/")).await.map(drop) });
    match call.await {
        Err(err @ TaskError::Panicked(_)) => {
            let text = err.to_string();
            assert!(text.contains("no reactor running"), "{text}");
            assert!(text.contains("corio::compat::tokio"), "{text}");
            assert!(text.contains("Using tokio crates"), "{text}");
        }
        // reqwest may report it as an error instead of panicking.
        Err(other) => panic!("unexpected {other:?}"),
        Ok(Err(err)) => panic!("expected tokio's panic, got an error: {err}"),
        Ok(Ok(())) => panic!("reqwest worked without a tokio runtime"),
    }
}

#[corio::test]
async fn a_tower_timeout_layer_times_out_a_hung_request() {
    use tower::ServiceExt;

    let addr = server().await;
    let client = reqwest::Client::new();
    let service = tower::service_fn(move |path: &'static str| {
        let client = client.clone();
        async move {
            client
                .get(format!("http://{addr}{path}"))
                .send()
                .await?
                .text()
                .await
        }
    });
    let service = tower::timeout::Timeout::new(service, Duration::from_millis(200));
    let ok = corio::compat::tokio(service.clone().oneshot("/fine")).await;
    assert_eq!(ok.unwrap(), "hello /fine");
    let began = Instant::now();
    let hung = corio::compat::tokio(service.oneshot("/hang")).await;
    let err = hung.expect_err("the hung request finished");
    assert!(err.is::<tower::timeout::error::Elapsed>(), "{err}");
    assert!(began.elapsed() >= Duration::from_millis(200));
    assert!(began.elapsed() < Duration::from_secs(10));
}
