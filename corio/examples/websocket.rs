//! A WebSocket route inside a hyper app, served by `corio::http::serve`:
//! hyper answers the upgrade, `corio::http::UpgradedIo` hands the
//! connection to async-tungstenite, and the route echoes every message.
//!
//! ```sh
//! cargo run --features http --example websocket -- 127.0.0.1:3001
//! cargo run --features http --example websocket -- --self-test   # a client talks to it, then exits
//! ```

use std::convert::Infallible;
use std::future::IntoFuture;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::Role;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use corio::http::UpgradedIo;
use corio::net::{TcpListener, TcpStream};
use futures::StreamExt;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

/// `/ws`: a WebSocket that echoes; anything else: a page saying so.
async fn route(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let key = req.headers().get(SEC_WEBSOCKET_KEY).cloned();
    let (Some(key), "/ws") = (key, req.uri().path()) else {
        return Ok(Response::new(Full::from("connect a WebSocket to /ws\n")));
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    corio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws =
            WebSocketStream::from_raw_socket(UpgradedIo::new(upgraded), Role::Server, None).await;
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
    headers.insert(UPGRADE, "websocket".parse().expect("a header value"));
    headers.insert(CONNECTION, "upgrade".parse().expect("a header value"));
    headers.insert(
        SEC_WEBSOCKET_ACCEPT,
        derive_accept_key(key.as_bytes())
            .parse()
            .expect("a header value"),
    );
    Ok(res)
}

#[corio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let self_test = args.iter().any(|a| a == "--self-test");
    let addr = match args.iter().find(|a| !a.starts_with("--")) {
        _ if self_test => "127.0.0.1:0",
        Some(addr) => addr.as_str(),
        None => "127.0.0.1:3001",
    };
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("WebSocket echo on ws://{local}/ws");
    let server = corio::spawn(corio::http::serve(listener, service_fn(route)).into_future());
    if !self_test {
        server.await??;
        return Ok(());
    }
    let stream = TcpStream::connect(local).await?;
    let (mut ws, _) = async_tungstenite::client_async(format!("ws://{local}/ws"), stream).await?;
    for text in ["hello", "from", "corio"] {
        ws.send(Message::text(text)).await?;
        let echoed = ws.next().await.ok_or("the server closed")??;
        println!("sent {text:?}, got back {:?}", echoed.to_text()?);
        assert_eq!(echoed.to_text()?, text);
    }
    ws.close(None).await?;
    server.cancel();
    Ok(())
}
