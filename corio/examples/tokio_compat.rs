//! A tokio-bound crate (reqwest) on corio through `corio::compat::tokio`,
//! beside corio's own pooled client, on one local server: what the helper
//! tokio thread costs per request.
//!
//! ```sh
//! cargo run --release --features tokio-compat,http --example tokio_compat -- 2000
//! ```

use std::convert::Infallible;
use std::future::IntoFuture;
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

#[corio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let hello = hyper::service::service_fn(|_: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("hello")))
    });
    corio::spawn(corio::http::serve(listener, hello).into_future()).detach();
    let url = format!("http://{addr}/");

    // Three rounds, alternating, to see the spread.
    for round in 1..=3 {
        let client: corio::http::Client = corio::http::Client::new();
        let start = Instant::now();
        for _ in 0..n {
            let res = client.get(url.parse()?).await?;
            res.into_body().collect().await?;
        }
        let corio_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);

        let reqwest = reqwest::Client::new();
        let start = Instant::now();
        for _ in 0..n {
            let reqwest = reqwest.clone();
            let url = url.clone();
            corio::compat::tokio(async move { reqwest.get(url).send().await?.bytes().await })
                .await?;
        }
        let compat_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        println!(
            "round {round}: corio::http::Client {corio_us:.1} us/request, \
             reqwest through compat {compat_us:.1} us/request ({n} sequential keep-alive requests)"
        );
    }
    Ok(())
}
