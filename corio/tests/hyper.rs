//! hyper 1.x servers and clients on corio, HTTP/1 and HTTP/2, on loopback.

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use corio::hyper::{CorioExecutor, CorioTimer, HyperIo};
use corio::net::{TcpListener, TcpStream};
use corio::sync::Event;
use corio::{spawn, timeout};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};

mod common;
use common::raise_fd_limit;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello {}",
        req.uri().path()
    )))))
}

/// An HTTP/1 server on its own accept task.
async fn http1_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(CorioTimer)
                    .serve_connection(HyperIo::new(stream), service_fn(hello))
                    .await;
            })
            .detach();
        }
    })
    .detach();
    addr
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
        .await
        .unwrap();
    spawn(conn).detach();
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert!(res.status().is_success());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[corio::test]
async fn http1_server_answers_1000_concurrent_clients() {
    raise_fd_limit();
    let addr = http1_server().await;
    let clients: Vec<_> = (0..1000)
        .map(|i| spawn(async move { (i, get(addr, &format!("/{i}")).await) }))
        .collect();
    for client in clients {
        let (i, body) = client.await.unwrap();
        assert_eq!(body, format!("hello /{i}"));
    }
}

#[corio::test]
async fn http1_keep_alive_serves_many_requests_on_one_connection() {
    let addr = http1_server().await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
        .await
        .unwrap();
    spawn(conn).detach();
    for i in 0..100 {
        let req = Request::get(format!("/k{i}"))
            .header("host", "x")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let body = sender
            .send_request(req)
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body, format!("hello /k{i}").as_bytes());
    }
}

#[corio::test]
async fn http2_100_concurrent_streams_over_one_connection() {
    const STREAMS: usize = 100;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let in_flight = Rc::new(Cell::new(0usize));
    let peak = Rc::new(Cell::new(0usize));
    let all_arrived = Rc::new(Event::new());
    let connections = Rc::new(Cell::new(0usize));
    {
        let (in_flight, peak, all_arrived, connections) = (
            in_flight.clone(),
            peak.clone(),
            all_arrived.clone(),
            connections.clone(),
        );
        spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                connections.set(connections.get() + 1);
                let (in_flight, peak, all_arrived) =
                    (in_flight.clone(), peak.clone(), all_arrived.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    let (in_flight, peak, all_arrived) =
                        (in_flight.clone(), peak.clone(), all_arrived.clone());
                    async move {
                        in_flight.set(in_flight.get() + 1);
                        peak.set(peak.get().max(in_flight.get()));
                        if in_flight.get() == STREAMS {
                            all_arrived.set();
                        }
                        // Every stream waits until all are open at once.
                        let _ = timeout(Duration::from_secs(10), all_arrived.wait()).await;
                        in_flight.set(in_flight.get() - 1);
                        hello(req).await
                    }
                });
                spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(CorioExecutor)
                        .timer(CorioTimer)
                        .serve_connection(HyperIo::new(stream), service)
                        .await;
                })
                .detach();
            }
        })
        .detach();
    }
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(CorioExecutor)
        .timer(CorioTimer)
        .handshake(HyperIo::new(stream))
        .await
        .unwrap();
    spawn(conn).detach();
    let requests: Vec<_> = (0..STREAMS)
        .map(|i| {
            let mut sender = sender.clone();
            spawn(async move {
                let req = Request::get(format!("http://localhost/s{i}"))
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let res = sender.send_request(req).await.unwrap();
                let body = res.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(body, format!("hello /s{i}").as_bytes());
            })
        })
        .collect();
    for r in requests {
        r.await.unwrap();
    }
    assert_eq!(connections.get(), 1, "one TCP connection");
    assert_eq!(
        peak.get(),
        STREAMS,
        "all {STREAMS} streams were open at the same time"
    );
}

#[corio::test(paused)]
async fn hyper_timers_run_on_the_loop_clock() {
    use hyper::rt::Timer;
    let start = corio::time::now();
    CorioTimer.sleep(Duration::from_secs(30)).await;
    assert_eq!(corio::time::now() - start, Duration::from_secs(30));
    let mut sleep = CorioTimer.sleep(Duration::from_secs(100));
    CorioTimer.reset(&mut sleep, corio::time::now() + Duration::from_secs(5));
    sleep.await;
    assert_eq!(corio::time::now() - start, Duration::from_secs(35));
}
