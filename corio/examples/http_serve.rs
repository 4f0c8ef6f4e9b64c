//! `corio::http::serve`: a hyper service on a listener in one line, HTTP/1
//! and HTTP/2, with a WebSocket-style upgrade route and graceful shutdown.
//!
//! ```sh
//! cargo run --release --features http --example http_serve -- 127.0.0.1:3000
//! curl http://127.0.0.1:3000/hello          # HTTP/1.1
//! curl --http2-prior-knowledge http://127.0.0.1:3000/hello
//! curl http://127.0.0.1:3000/shutdown       # finishes in-flight requests, then exits
//! cargo run --features http --example http_serve -- --self-test   # asks itself, then exits
//! ```

use std::convert::Infallible;
use std::rc::Rc;

use corio::net::TcpListener;
use corio::sync::Event;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};

async fn route(
    req: Request<Incoming>,
    stop: Rc<Event>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = match req.uri().path() {
        "/shutdown" => {
            stop.set();
            "shutting down\n".to_owned()
        }
        path => format!("Hello from corio over {:?}: {path}\n", req.version()),
    };
    Ok(Response::new(Full::new(Bytes::from(text))))
}

#[corio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let self_test = args.iter().any(|a| a == "--self-test");
    let addr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("127.0.0.1:3000", String::as_str);
    let addr = if self_test { "127.0.0.1:0" } else { addr };
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}");
    let stop = Rc::new(Event::new());
    let (stop_route, stop_signal) = (stop.clone(), stop.clone());
    let service = service_fn(move |req| route(req, stop_route.clone()));
    let server = corio::spawn(async move {
        corio::http::serve(listener, service)
            .with_graceful_shutdown(async move { stop_signal.wait().await })
            .await
    });
    if self_test {
        for path in ["/hello", "/shutdown"] {
            let stream = corio::net::TcpStream::connect(local).await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(corio::hyper::HyperIo::new(stream))
                    .await
                    .map_err(std::io::Error::other)?;
            corio::spawn(conn).detach();
            let req = Request::get(path)
                .header("host", "localhost")
                .body(Empty::<Bytes>::new())
                .expect("a valid request");
            let res = sender
                .send_request(req)
                .await
                .map_err(std::io::Error::other)?;
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(std::io::Error::other)?;
            print!("{path}: {}", String::from_utf8_lossy(&body.to_bytes()));
        }
    }
    server.await.expect("the server task")?;
    println!("server stopped");
    Ok(())
}
