//! [`JoinSet`]: a set of tasks whose results come out as they finish
//! (tokio's `JoinSet`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::{Poll, Waker};

use slab::Slab;

use super::Task;
use crate::TaskError;

/// Tasks spawned into a set, joined in the order they finish.
///
/// [`join_next`](JoinSet::join_next) gives the next finished task's result
/// (`Err` with [`TaskError`] if it panicked or was cancelled), `None` once
/// the set is empty. Dropping the set cancels the tasks still in it (as
/// tokio's does); [`detach_all`](JoinSet::detach_all) lets them run on.
/// Loop-local (`!Send`).
///
/// ```
/// use std::time::Duration;
/// corio::run(async {
///     let mut set = corio::task::JoinSet::new();
///     for ms in [30, 10, 20] {
///         set.spawn(async move {
///             corio::sleep(Duration::from_millis(ms)).await;
///             ms
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(done) = set.join_next().await {
///         order.push(done.unwrap());
///     }
///     assert_eq!(order, [10, 20, 30]);
/// });
/// ```
pub struct JoinSet<T> {
    /// (spawn number, task): the number tells a task from a later one in
    /// the same slot (a detached task still reports its old slot).
    tasks: Slab<(u64, Task<T>)>,
    spawned: u64,
    finished: Rc<Finished>,
}

/// The keys of finished tasks, in finishing order, and who waits for one.
#[derive(Default)]
struct Finished {
    keys: RefCell<VecDeque<(usize, u64)>>,
    waiter: RefCell<Option<Waker>>,
}

/// Reports its task's key when dropped: on completion, on a panic (during
/// unwinding) and on cancellation alike.
struct OnFinish {
    key: (usize, u64),
    finished: Rc<Finished>,
}

impl Drop for OnFinish {
    fn drop(&mut self) {
        self.finished.keys.borrow_mut().push_back(self.key);
        if let Some(waker) = self.finished.waiter.borrow_mut().take() {
            waker.wake();
        }
    }
}

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T: 'static> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            tasks: Slab::new(),
            spawned: 0,
            finished: Rc::default(),
        }
    }

    /// Spawns `future` on the running loop into the set.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> &Task<T>
    where
        F: Future<Output = T> + 'static,
    {
        self.spawned += 1;
        let number = self.spawned;
        let entry = self.tasks.vacant_entry();
        let guard = OnFinish {
            key: (entry.key(), number),
            finished: self.finished.clone(),
        };
        let task = crate::spawn(async move {
            let _guard = guard;
            future.await
        });
        &entry.insert((number, task)).1
    }

    /// How many tasks are in the set (finished ones not yet joined count).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The next task to finish: its result, or `None` when the set is
    /// empty. Cancel-safe: a cancelled `join_next` loses no result.
    pub async fn join_next(&mut self) -> Option<Result<T, TaskError>> {
        loop {
            if self.tasks.is_empty() {
                return None;
            }
            let (slot, number) = poll_fn(|cx| match self.finished.keys.borrow_mut().pop_front() {
                Some(key) => Poll::Ready(key),
                None => {
                    *self.finished.waiter.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
            if self.tasks.get(slot).is_some_and(|(n, _)| *n == number) {
                let (_, task) = self.tasks.remove(slot);
                // The future is gone; its output is stored by the time the
                // loop runs this task again.
                return Some(task.await);
            }
            // A detached task's report: not ours any more.
        }
    }

    /// Cancels every task in the set (they stay in it until joined, each
    /// giving [`TaskError::Cancelled`] unless it had finished).
    pub fn abort_all(&self) {
        for (_, (_, task)) in &self.tasks {
            task.cancel();
        }
    }

    /// Empties the set, letting its tasks run on unjoined.
    pub fn detach_all(&mut self) {
        for (_, task) in self.tasks.drain() {
            task.detach();
        }
        self.finished.keys.borrow_mut().clear();
    }

    /// Cancels every task and waits for them all to end.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        for (_, (_, task)) in &self.tasks {
            task.cancel();
        }
    }
}

impl<T> std::fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.tasks.len())
            .finish()
    }
}
