//! tokio-bound crates on corio (feature `tokio-compat`): reqwest, sqlx,
//! tonic, redis clients and tower's timeout layers need tokio's reactor or
//! timer and panic on corio's loop with "there is no reactor running".
//! [`tokio()`] wraps such a future so that each poll (and its drop) runs
//! inside a tokio runtime's context, as the async-compat crate does.
//!
//! What it costs, plainly: one extra thread, the tokio runtime's (a
//! one-worker multi-thread runtime, started on first use and kept for the
//! process). Sockets and timers the wrapped future creates are driven by
//! that thread; each readiness event or timer crosses to corio's loop as a
//! wake-up through the loop's cross-thread queue (an `eventfd` write).
//! Measured per HTTP request in `docs/benchmarks.md`. Everything else the
//! future does runs on corio's loop thread as usual.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! // reqwest, built for tokio, called from a corio task:
//! let body = corio::compat::tokio(async {
//!     reqwest::get("http://127.0.0.1:3000/").await?.text().await
//! })
//! .await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

/// The tokio runtime the wrapped futures enter: one worker thread, with
/// its I/O driver and timer; started on first use.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("corio-tokio-compat")
            .enable_all()
            .build()
            .expect("corio::compat: could not start the helper tokio runtime")
    })
}

/// Runs `future` on corio's loop with a tokio runtime's context entered
/// around each poll and its drop, so tokio's reactor and timer are there
/// when it needs them. See the [module docs](self) for the cost.
pub fn tokio<F: Future>(future: F) -> Tokio<F> {
    Tokio {
        inner: Some(future),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`tokio`].
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Tokio<F> {
        #[pin]
        inner: Option<F>,
    }

    impl<F> PinnedDrop for Tokio<F> {
        fn drop(this: Pin<&mut Self>) {
            // tokio resources may want their runtime as they go.
            let _entered = runtime().enter();
            this.project().inner.set(None);
        }
    }
}

impl<F: Future> Future for Tokio<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _entered = runtime().enter();
        let mut inner = self.project().inner;
        match inner.as_mut().as_pin_mut() {
            Some(future) => {
                let output = std::task::ready!(future.poll(cx));
                inner.set(None);
                Poll::Ready(output)
            }
            None => panic!("corio::compat::Tokio polled after it completed"),
        }
    }
}
