//! `corio::http::serve` on loopback: HTTP/1 and HTTP/2 on one listener,
//! upgrades, graceful shutdown and its deadline, the header read timeout,
//! the connection limit, and tower services.

use std::cell::Cell;
use std::convert::Infallible;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::hyper::{CorioExecutor, HyperIo};
use corio::net::{TcpListener, TcpStream};
use corio::sync::Event;
use corio::{spawn, timeout};
use futures::{AsyncReadExt, AsyncWriteExt};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

mod common;
use common::raise_fd_limit;

type Reply = Result<Response<Full<Bytes>>, Infallible>;

/// Routes: `/` says hello; `/slow` answers after 300 ms; `/hang` never
/// answers; `/echo` upgrades to a raw byte echo.
async fn app(req: Request<Incoming>) -> Reply {
    match req.uri().path() {
        "/slow" => {
            corio::sleep(Duration::from_millis(300)).await;
            Ok(Response::new(Full::from("slow done")))
        }
        "/hang" => std::future::pending().await,
        "/echo" => {
            spawn(async move {
                let upgraded = hyper::upgrade::on(req).await.expect("upgrade");
                let mut io = corio::http::UpgradedIo::new(upgraded);
                let mut buf = [0u8; 1024];
                loop {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => io.write_all(&buf[..n]).await.unwrap(),
                    }
                }
            })
            .detach();
            let mut res = Response::new(Full::default());
            *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            res.headers_mut().insert("upgrade", "echo".parse().unwrap());
            res.headers_mut()
                .insert("connection", "upgrade".parse().unwrap());
            Ok(res)
        }
        "/ws" => Ok(websocket_echo(req)),
        path => Ok(Response::new(Full::from(format!("hello {path}")))),
    }
}

/// A WebSocket route: hyper answers the upgrade, async-tungstenite speaks
/// WebSocket over `UpgradedIo`, every message comes back.
fn websocket_echo(mut req: Request<Incoming>) -> Response<Full<Bytes>> {
    use async_tungstenite::tungstenite::handshake::derive_accept_key;
    use async_tungstenite::tungstenite::protocol::Role;
    use futures::StreamExt;

    let key = req.headers()["sec-websocket-key"].clone();
    let on_upgrade = hyper::upgrade::on(&mut req);
    spawn(async move {
        let upgraded = on_upgrade.await.expect("upgrade");
        let mut ws = async_tungstenite::WebSocketStream::from_raw_socket(
            corio::http::UpgradedIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() || ws.send(msg).await.is_err() {
                break;
            }
        }
    })
    .detach();
    let mut res = Response::new(Full::default());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = res.headers_mut();
    headers.insert("upgrade", "websocket".parse().unwrap());
    headers.insert("connection", "upgrade".parse().unwrap());
    headers.insert(
        "sec-websocket-accept",
        derive_accept_key(key.as_bytes()).parse().unwrap(),
    );
    res
}

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

async fn http1_sender(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
        .await
        .unwrap();
    spawn(async move {
        let _ = conn.await;
    })
    .detach();
    sender
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap()
}

async fn body(res: Response<Incoming>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[corio::test]
async fn one_listener_serves_http1_and_http2_concurrently() {
    raise_fd_limit();
    let (listener, addr) = listener().await;
    spawn(corio::http::serve(listener, service_fn(app)).into_future()).detach();
    // 100 HTTP/1 clients, each on its own keep-alive connection, two requests each.
    let http1: Vec<_> = (0..100)
        .map(|i| {
            spawn(async move {
                let mut sender = http1_sender(addr).await;
                for j in 0..2 {
                    let res = sender
                        .send_request(get(&format!("/{i}-{j}")))
                        .await
                        .unwrap();
                    assert_eq!(body(res).await, format!("hello /{i}-{j}"));
                }
            })
        })
        .collect();
    // One HTTP/2 connection (prior knowledge) multiplexing 200 requests.
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::handshake(CorioExecutor, HyperIo::new(stream))
        .await
        .unwrap();
    spawn(async move {
        let _ = conn.await;
    })
    .detach();
    let http2: Vec<_> = (0..200)
        .map(|i| {
            let mut sender = sender.clone();
            spawn(async move {
                let res = sender.send_request(get(&format!("/h2-{i}"))).await.unwrap();
                assert_eq!(res.version(), hyper::Version::HTTP_2);
                assert_eq!(body(res).await, format!("hello /h2-{i}"));
            })
        })
        .collect();
    for task in http1.into_iter().chain(http2) {
        timeout(Duration::from_secs(20), task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// The client side of the `/echo` upgrade, on a raw socket.
async fn upgrade_to_echo(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /echo HTTP/1.1\r\nhost: localhost\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "server closed early"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

#[corio::test]
async fn an_upgraded_connection_is_a_futures_io_stream() {
    let (listener, addr) = listener().await;
    spawn(corio::http::serve(listener, service_fn(app)).into_future()).detach();
    let stream = upgrade_to_echo(addr).await;
    // 1 MiB through the upgraded connection, in both directions at once.
    let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let sent = data.clone();
    let (mut reader, mut writer) = stream.into_split();
    let writing = spawn(async move {
        writer.write_all(&sent).await.unwrap();
        writer
    });
    let mut got = vec![0u8; data.len()];
    timeout(Duration::from_secs(20), reader.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert!(got == data, "the echo came back changed");
    drop(writing.await.unwrap());
}

#[corio::test]
async fn a_websocket_route_echoes_text_and_a_large_binary_message() {
    use async_tungstenite::tungstenite::Message;
    use futures::StreamExt;

    let (listener, addr) = listener().await;
    spawn(corio::http::serve(listener, service_fn(app)).into_future()).detach();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut ws, _) = async_tungstenite::client_async(format!("ws://{addr}/ws"), stream)
        .await
        .unwrap();
    for i in 0..100 {
        ws.send(Message::text(format!("message {i}")))
            .await
            .unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back.to_text().unwrap(), format!("message {i}"));
    }
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 253) as u8).collect();
    ws.send(Message::binary(big.clone())).await.unwrap();
    let back = timeout(Duration::from_secs(20), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        back.into_data() == big,
        "the binary message came back changed"
    );
    ws.close(None).await.unwrap();
}

#[corio::test]
async fn graceful_shutdown_finishes_the_request_in_flight_then_returns() {
    let (listener, addr) = listener().await;
    let stop = Rc::new(Event::new());
    let stop2 = stop.clone();
    let server = spawn(
        corio::http::serve(listener, service_fn(app))
            .with_graceful_shutdown(async move { stop2.wait().await })
            .into_future(),
    );
    let mut sender = http1_sender(addr).await;
    let in_flight = spawn(async move { sender.send_request(get("/slow")).await });
    corio::sleep(Duration::from_millis(50)).await;
    let began = Instant::now();
    stop.set();
    // Not accepting any more: the listener is closed once the signal fired.
    corio::sleep(Duration::from_millis(20)).await;
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    let res = in_flight.await.unwrap().unwrap();
    assert_eq!(body(res).await, "slow done");
    timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        began.elapsed() >= Duration::from_millis(200),
        "returned before the request finished"
    );
}

#[corio::test]
async fn the_shutdown_deadline_cancels_connections_that_do_not_finish() {
    let (listener, addr) = listener().await;
    let stop = Rc::new(Event::new());
    let stop2 = stop.clone();
    let server = spawn(
        corio::http::serve(listener, service_fn(app))
            .with_graceful_shutdown(async move { stop2.wait().await })
            .shutdown_deadline(Duration::from_millis(200))
            .into_future(),
    );
    let mut sender = http1_sender(addr).await;
    let hung = spawn(async move { sender.send_request(get("/hang")).await });
    corio::sleep(Duration::from_millis(50)).await;
    let began = Instant::now();
    stop.set();
    timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns after the deadline")
        .unwrap()
        .unwrap();
    assert!(began.elapsed() >= Duration::from_millis(200));
    // The hung request's connection was closed under it: an error, not a hang.
    let result = timeout(Duration::from_secs(5), hung)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_err(), "the hung request got an answer");
}

#[corio::test]
async fn a_client_that_never_finishes_its_headers_is_closed_after_the_timeout() {
    let (listener, addr) = listener().await;
    spawn(
        corio::http::serve(listener, service_fn(app))
            .header_read_timeout(Some(Duration::from_millis(300)))
            .into_future(),
    )
    .detach();
    let stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: loc")
        .await
        .unwrap();
    let began = Instant::now();
    let mut rest = Vec::new();
    let read = timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 512];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => rest.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the slow client was never closed");
    assert!(
        began.elapsed() >= Duration::from_millis(250),
        "closed too early"
    );
    let answer = String::from_utf8_lossy(&rest);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[corio::test]
async fn max_connections_holds_new_clients_until_one_closes() {
    let (listener, addr) = listener().await;
    spawn(
        corio::http::serve(listener, service_fn(app))
            .max_connections(2)
            .into_future(),
    )
    .detach();
    let mut first = http1_sender(addr).await;
    let mut second = http1_sender(addr).await;
    for sender in [&mut first, &mut second] {
        let res = sender.send_request(get("/kept")).await.unwrap();
        assert_eq!(body(res).await, "hello /kept");
    }
    // A third connection is accepted by the kernel but not served yet.
    let served = Rc::new(Cell::new(false));
    let served2 = served.clone();
    let third = spawn(async move {
        let mut sender = http1_sender(addr).await;
        let res = sender.send_request(get("/third")).await.unwrap();
        served2.set(true);
        body(res).await
    });
    corio::sleep(Duration::from_millis(300)).await;
    assert!(!served.get(), "served beyond the limit");
    drop(first);
    let answer = timeout(Duration::from_secs(5), third)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer, "hello /third");
}

/// A tower service, written out by hand (what an axum `Router` is).
#[derive(Clone)]
struct Counter(Rc<Cell<u32>>);

impl tower_service::Service<Request<Incoming>> for Counter {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Reply>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Incoming>) -> Self::Future {
        self.0.set(self.0.get() + 1);
        std::future::ready(Ok(Response::new(Full::from(self.0.get().to_string()))))
    }
}

#[corio::test]
async fn a_tower_service_serves_through_the_adapter() {
    let (listener, addr) = listener().await;
    let count = Rc::new(Cell::new(0));
    spawn(corio::http::serve(listener, corio::http::tower(Counter(count.clone()))).into_future())
        .detach();
    let mut sender = http1_sender(addr).await;
    for expected in 1..=3 {
        let res = sender.send_request(get("/")).await.unwrap();
        assert_eq!(body(res).await, expected.to_string());
    }
    assert_eq!(count.get(), 3);
}

#[corio::test]
async fn an_axum_router_serves_in_one_line() {
    use axum::extract::Path;
    use axum::routing::get as route_get;

    let router = axum::Router::new()
        .route("/", route_get(|| async { "root" }))
        .route(
            "/users/{id}",
            route_get(|Path(id): Path<u32>| async move { format!("user {id}") }),
        );
    let (listener, addr) = listener().await;
    spawn(corio::http::serve(listener, corio::http::tower(router)).into_future()).detach();
    let mut sender = http1_sender(addr).await;
    let res = sender.send_request(get("/")).await.unwrap();
    assert_eq!(body(res).await, "root");
    let res = sender.send_request(get("/users/42")).await.unwrap();
    assert_eq!(body(res).await, "user 42");
    let res = sender.send_request(get("/nowhere")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
