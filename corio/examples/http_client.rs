//! A hyper HTTP/1 client on corio: GETs a URL (http only here; the demo
//! shows https) and prints the status and body.
//!
//! ```sh
//! cargo run --release --features hyper --example http_server &
//! cargo run --release --features hyper --example http_client -- http://127.0.0.1:3000/hi
//! ```

use corio::hyper::HyperIo;
use corio::net::TcpStream;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Uri};

#[corio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url: Uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:3000/".to_owned())
        .parse()?;
    let host = url.host().ok_or("the URL has no host")?;
    let port = url.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port)).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(HyperIo::new(stream)).await?;
    corio::spawn(connection).detach(); // drives the connection while we use it
    let request = Request::get(url.path_and_query().map_or("/", |p| p.as_str()))
        .header(
            hyper::header::HOST,
            url.authority().map_or(host, |a| a.as_str()),
        )
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    println!("{}", response.status());
    let body = response.into_body().collect().await?.to_bytes();
    print!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
