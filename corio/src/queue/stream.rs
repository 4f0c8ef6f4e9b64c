//! A queue as a `futures_core::Stream` of its items.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::generic::{GenericQueue, Get};
use super::store::Store;

/// The items of a queue as a [`Stream`] (from [`GenericQueue::stream`]):
/// each `next()` is a `get()`; the stream ends when the queue is shut down
/// and empty.
#[must_use = "streams do nothing unless polled"]
pub struct QueueStream<'a, T, S: Store<T>> {
    queue: &'a GenericQueue<T, S>,
    get: Option<Get<'a, T, S>>,
}

impl<T, S: Store<T>> GenericQueue<T, S> {
    /// The queue's items as a [`Stream`]; see [`QueueStream`].
    ///
    /// ```
    /// use futures_core::Stream;
    /// corio::run(async {
    ///     let q = corio::queue::Queue::unbounded();
    ///     for i in 0..3 {
    ///         q.put_nowait(i).unwrap();
    ///     }
    ///     q.shutdown(false);
    ///     let mut items = std::pin::pin!(q.stream());
    ///     let mut got = Vec::new();
    ///     while let Some(i) = std::future::poll_fn(|cx| items.as_mut().poll_next(cx)).await {
    ///         got.push(i);
    ///     }
    ///     assert_eq!(got, [0, 1, 2]);
    /// });
    /// ```
    pub fn stream(&self) -> QueueStream<'_, T, S> {
        QueueStream {
            queue: self,
            get: None,
        }
    }
}

impl<T, S: Store<T>> Unpin for QueueStream<'_, T, S> {}

impl<T, S: Store<T>> Stream for QueueStream<'_, T, S> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let queue = this.queue;
        let get = this.get.get_or_insert_with(|| queue.get());
        match Pin::new(get).poll(cx) {
            Poll::Ready(item) => {
                this.get = None;
                Poll::Ready(item.ok())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T, S: Store<T>> std::fmt::Debug for QueueStream<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueStream")
            .field("queue", &self.queue)
            .finish()
    }
}
