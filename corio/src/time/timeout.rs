//! `timeout` / `wait_for` and `timeout_at`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::sleep_until;
use crate::runtime::Sleep;

/// The deadline of a [`timeout`] passed before its future finished
/// (asyncio's `TimeoutError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::ErrorKind::TimedOut.into()
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`], [`wait_for`] and [`timeout_at`].
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The inner future (it may be resumed under a new deadline).
    pub fn into_inner(self) -> F {
        self.future
    }
}

/// Runs `future` for at most `duration`: its output, or [`Elapsed`] with the
/// future dropped, which cancels it (asyncio's `wait_for` / `timeout`).
///
/// The future is polled before the deadline is checked, so one that is
/// ready at once succeeds even with a zero timeout. The deadline counts from
/// the first poll (for the usual `timeout(d, f).await`, the same instant as
/// the call), so a future ready at once costs no clock read. A [`Task`](crate::Task)
/// passed here is detached on timeout, not cancelled (dropping a `Task`
/// handle detaches it); call [`Task::cancel`](crate::Task::cancel) to stop it.
///
/// ```
/// use std::time::Duration;
/// use corio::{sleep, timeout};
/// corio::run(async {
///     let slow = timeout(Duration::from_millis(10), sleep(Duration::from_secs(60))).await;
///     assert!(slow.is_err());
///     let fast = timeout(Duration::from_secs(60), async { 1 }).await;
///     assert_eq!(fast, Ok(1));
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: Sleep::from_first_poll(duration),
    }
}

/// asyncio's name for [`timeout`]: `wait_for(duration, future)`.
pub fn wait_for<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout(duration, future)
}

/// Like [`timeout`], with a deadline on the loop's clock.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        Pin::new(this.sleep).poll(cx).map(|()| Err(Elapsed))
    }
}
