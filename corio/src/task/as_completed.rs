//! `as_completed`: outputs in the order the futures finish.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::children::Children;

/// Runs `futures` concurrently and yields their outputs as they finish
/// (asyncio's `as_completed`), as a [`Stream`]. Tasks are futures too, so
/// `as_completed(tasks)` works. Dropping the stream drops the futures not yet
/// finished.
///
/// ```
/// use std::time::Duration;
/// use futures::StreamExt;
/// corio::run(async {
///     let mut stream = corio::as_completed([30u64, 10, 20].map(|ms| async move {
///         corio::sleep(Duration::from_millis(ms)).await;
///         ms
///     }));
///     let mut order = Vec::new();
///     while let Some(ms) = stream.next().await {
///         order.push(ms);
///     }
///     assert_eq!(order, [10, 20, 30]);
/// });
/// ```
pub fn as_completed<I>(futures: I) -> AsCompleted<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    AsCompleted {
        children: Children::new(futures),
    }
}

/// The stream returned by [`as_completed`].
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<F> {
    children: Children<F>,
}

impl<F> Unpin for AsCompleted<F> {}

impl<F: Future> AsCompleted<F> {
    /// Futures that have not finished yet.
    pub fn remaining(&self) -> usize {
        self.children.remaining()
    }
}

impl<F: Future> Stream for AsCompleted<F> {
    type Item = F::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        self.get_mut()
            .children
            .poll_next(cx)
            .map(|next| next.map(|(_, output)| output))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.children.remaining();
        (n, Some(n))
    }
}

impl<F> std::fmt::Debug for AsCompleted<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsCompleted").finish_non_exhaustive()
    }
}
