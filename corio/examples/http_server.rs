//! A hyper HTTP/1 server on corio.
//!
//! ```sh
//! cargo run --release --features hyper --example http_server -- 127.0.0.1:3000
//! curl http://127.0.0.1:3000/hello
//! ```

use std::convert::Infallible;

use corio::hyper::{CorioTimer, HyperIo};
use corio::net::TcpListener;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from(format!(
        "Hello from corio: {}\n",
        req.uri().path()
    )))))
}

#[corio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        corio::spawn(async move {
            let service = hyper::service::service_fn(hello);
            let served = hyper::server::conn::http1::Builder::new()
                .timer(CorioTimer)
                .serve_connection(HyperIo::new(stream), service)
                .await;
            if let Err(e) = served {
                eprintln!("connection error: {e}");
            }
        })
        .detach();
    }
}
