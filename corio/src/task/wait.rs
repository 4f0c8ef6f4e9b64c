//! `wait`: wait for a set of tasks until some condition, without taking
//! their outputs (asyncio's `asyncio.wait`).

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use super::Task;
use crate::runtime::Sleep;

/// When [`wait`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any task finishes (or is cancelled).
    FirstCompleted,
    /// As soon as any task panics, or when all finished. A cancelled task
    /// does not count as an exception (as in asyncio).
    FirstException,
    /// When every task finished.
    AllCompleted,
}

/// Waits for `tasks` until `return_when` holds or `timeout` passes, and
/// returns `(done, pending)`, each in input order. Tasks are not cancelled
/// on timeout (as in asyncio): the pending ones are handed back. Await a
/// done task to read its output at once.
///
/// ```
/// use std::time::Duration;
/// use corio::{ReturnWhen, spawn, sleep};
/// corio::run(async {
///     let fast = spawn(async { sleep(Duration::from_millis(5)).await; 1 });
///     let slow = spawn(async { sleep(Duration::from_secs(60)).await; 2 });
///     let (done, pending) = corio::wait([fast, slow], ReturnWhen::FirstCompleted, None).await;
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     pending[0].cancel();
/// });
/// ```
pub async fn wait<T, I>(
    tasks: I,
    return_when: ReturnWhen,
    timeout: Option<Duration>,
) -> (Vec<Task<T>>, Vec<Task<T>>)
where
    I: IntoIterator<Item = Task<T>>,
{
    let tasks: Vec<Task<T>> = tasks.into_iter().collect();
    let mut sleep = timeout.map(Sleep::after);
    poll_fn(|cx| {
        let mut done = 0;
        let mut panicked = false;
        for task in &tasks {
            if task.poll_done(cx).is_ready() {
                done += 1;
                panicked |= task.is_panicked();
            }
        }
        let finished = match return_when {
            _ if done == tasks.len() => true,
            ReturnWhen::FirstCompleted => done > 0,
            ReturnWhen::FirstException => panicked,
            ReturnWhen::AllCompleted => false,
        };
        if finished {
            return Poll::Ready(());
        }
        match sleep
            .as_mut()
            .map(|s: &mut Sleep| std::future::Future::poll(std::pin::Pin::new(s), cx))
        {
            Some(Poll::Ready(())) => Poll::Ready(()),
            _ => Poll::Pending,
        }
    })
    .await;
    tasks.into_iter().partition(Task::is_done)
}
