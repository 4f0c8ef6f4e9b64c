//! `shield`: keep work going when whoever awaits it is cancelled.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{spawn, Task, TaskError};

/// Runs `future` as its own task and awaits it; if the awaiter is cancelled
/// (its future dropped, e.g. by [`timeout`](crate::timeout) or a
/// [`TaskGroup`](crate::TaskGroup)), the work carries on (asyncio's `shield`).
///
/// In corio, dropping a [`Task`] handle already detaches the task rather
/// than cancelling it, so `shield` matters for plain futures, which would
/// otherwise be dropped along with their awaiter.
///
/// ```
/// use std::time::Duration;
/// corio::run(async {
///     let (tx, rx) = futures::channel::oneshot::channel();
///     let save = corio::shield(async move {
///         corio::sleep(Duration::from_millis(50)).await;
///         tx.send("saved").unwrap();
///     });
///     // The awaiter gives up after 10 ms...
///     assert!(corio::timeout(Duration::from_millis(10), save).await.is_err());
///     // ...but the shielded work still finishes.
///     assert_eq!(rx.await.unwrap(), "saved");
/// });
/// ```
#[track_caller]
pub fn shield<F: Future + 'static>(future: F) -> Shield<F::Output> {
    Shield {
        task: spawn(future),
    }
}

/// The future returned by [`shield`]; dropping it leaves the work running.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Shield<T> {
    task: Task<T>,
}

impl<T> Shield<T> {
    /// The task doing the shielded work.
    pub fn into_task(self) -> Task<T> {
        self.task
    }
}

impl<T> Future for Shield<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task).poll(cx)
    }
}
