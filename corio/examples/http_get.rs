//! `corio::http::Client`: fetch URLs concurrently over pooled connections
//! and print each status and body size. Connections to one host are kept
//! alive and reused (HTTP/1) or shared (HTTP/2).
//!
//! ```sh
//! cargo run --release --features http --example http_serve &
//! cargo run --release --features http --example http_get -- http://127.0.0.1:3000/a http://127.0.0.1:3000/b
//! cargo run --features http --example http_get -- --self-test   # its own server, 100 requests
//! ```

use std::time::Duration;

use corio::http::Client;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Response;

#[corio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    let self_test = urls.iter().any(|u| u == "--self-test");
    if self_test {
        // A local server to fetch from.
        let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let hello =
            hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::from(format!(
                    "hello {}",
                    req.uri().path()
                ))))
            });
        corio::spawn(std::future::IntoFuture::into_future(corio::http::serve(
            listener, hello,
        )))
        .detach();
        urls = (0..100).map(|i| format!("http://{addr}/{i}")).collect();
    }
    let client: Client = Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(30)))
        .max_connections_per_host(8)
        .build();
    let fetches: Vec<_> = urls
        .iter()
        .map(|url| {
            let (client, url) = (client.clone(), url.clone());
            corio::spawn(async move {
                let res = client.get(url.parse()?).await?;
                let status = res.status();
                let body = res.into_body().collect().await?.to_bytes();
                Ok::<_, Box<dyn std::error::Error>>((url, status, body.len()))
            })
        })
        .collect();
    let mut failed = 0;
    for fetch in fetches {
        match fetch.await? {
            Ok((url, status, len)) => println!("{url}: {status}, {len} bytes"),
            Err(err) => {
                failed += 1;
                println!("error: {err}");
            }
        }
    }
    if self_test && failed > 0 {
        return Err(format!("{failed} requests failed").into());
    }
    Ok(())
}
