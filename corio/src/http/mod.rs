//! HTTP on corio (feature `http`): [`serve`] a hyper or tower service on a
//! listener in one line, HTTP/1.1 and HTTP/2 told apart per connection,
//! with upgrades, graceful shutdown, a header read timeout and a
//! connection limit; a pooled [`Client`] (HTTP/1 keep-alive, HTTP/2
//! multiplexing, `https` with the `tls` feature, timeouts); [`UpgradedIo`] turns an upgraded connection (a
//! WebSocket) back into a futures-io stream; [`LoopBound`] lets hyper take
//! corio's loop-local sockets where it insists on `Send` I/O.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use hyper::{body::Incoming, Request, Response};
//!
//! async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
//!     Ok(Response::new("hello\n".to_owned()))
//! }
//!
//! corio::run(async {
//!     let listener = corio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     corio::http::serve(listener, hyper::service::service_fn(hello))
//!         .with_graceful_shutdown(async { corio::sleep(std::time::Duration::from_secs(60)).await })
//!         .await
//! })
//! .unwrap();
//! ```

mod client;
mod loop_bound;
mod serve;
mod stream;
mod upgraded;

pub use client::{Client, ClientBuilder, ClientError, PooledBody};
pub use loop_bound::LoopBound;
pub use serve::{serve, Serve, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_SHUTDOWN_DEADLINE};
pub use upgraded::UpgradedIo;

/// A tower service (an axum `Router`, a `tower::ServiceBuilder` stack) as
/// the hyper service [`serve`] takes.
pub fn tower<S>(service: S) -> hyper_util::service::TowerToHyperService<S> {
    hyper_util::service::TowerToHyperService::new(service)
}
