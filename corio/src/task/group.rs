//! `TaskGroup`: structured concurrency (asyncio's `TaskGroup`).

use std::any::Any;
use std::cell::RefCell;
use std::future::{pending, poll_fn, Future};
use std::panic::Location;
use std::rc::Rc;
use std::task::{Poll, Waker};

use slab::Slab;

use super::{panic_message, Task};
use crate::runtime::task::{Canceller, CatchUnwind};

/// Why a [`TaskGroup`] failed: the first failure among its children.
#[non_exhaustive]
pub enum GroupError<E> {
    /// A child returned this error.
    Failed(E),
    /// A child panicked with this payload.
    Panicked(Box<dyn Any + Send + 'static>),
}

impl<E: std::fmt::Debug> std::fmt::Debug for GroupError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            GroupError::Panicked(p) => f
                .debug_tuple("Panicked")
                .field(&panic_message(&**p))
                .finish(),
        }
    }
}

impl<E: std::fmt::Display> std::fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupError::Failed(e) => write!(f, "a task of the group failed: {e}"),
            GroupError::Panicked(p) => {
                write!(f, "a task of the group panicked: {}", panic_message(&**p))
            }
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for GroupError<E> {}

struct GroupState<E> {
    children: RefCell<Slab<Rc<Canceller>>>,
    error: RefCell<Option<GroupError<E>>>,
    waiter: RefCell<Option<Waker>>,
}

impl<E> GroupState<E> {
    fn cancel_all(&self) {
        let children: Vec<Rc<Canceller>> = self
            .children
            .borrow()
            .iter()
            .map(|(_, t)| t.clone())
            .collect();
        for child in &children {
            child.cancel();
        }
    }

    fn fail(&self, error: GroupError<E>) {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(error);
            drop(slot);
            self.cancel_all();
        }
    }
}

/// Leaves the group when the child's future ends, however it ends.
struct Membership<E> {
    state: Rc<GroupState<E>>,
    key: usize,
}

impl<E> Drop for Membership<E> {
    fn drop(&mut self) {
        let removed = self.state.children.borrow_mut().try_remove(self.key);
        drop(removed);
        if self.state.children.borrow().is_empty() {
            if let Some(waiter) = self.state.waiter.borrow_mut().take() {
                waiter.wake();
            }
        }
    }
}

/// Structured concurrency: tasks spawned into a group are awaited together by
/// [`join`](TaskGroup::join), and the first failure (an `Err` or a panic)
/// cancels all the others and is returned (asyncio's `TaskGroup`).
///
/// Dropping the group (or the `join` future) cancels the children still
/// running, so no child outlives its group.
///
/// A child that fails, and every child cancelled because of it, resolves its
/// own [`Task`] to [`TaskError::Cancelled`](crate::TaskError); the error
/// itself goes to `join`.
///
/// ```
/// use std::time::Duration;
/// use corio::{GroupError, TaskGroup, sleep};
/// corio::run(async {
///     let group = TaskGroup::new();
///     let slow = group.spawn(async {
///         sleep(Duration::from_secs(60)).await;
///         Ok(1)
///     });
///     group.spawn(async { Err::<i32, _>("boom") });
///     let result = group.join().await;
///     assert!(matches!(result, Err(GroupError::Failed("boom"))));
///     assert!(slow.await.unwrap_err().is_cancelled());
/// });
/// ```
pub struct TaskGroup<E> {
    state: Rc<GroupState<E>>,
}

impl<E: 'static> Default for TaskGroup<E> {
    fn default() -> Self {
        TaskGroup::new()
    }
}

impl<E: 'static> TaskGroup<E> {
    /// An empty group.
    pub fn new() -> TaskGroup<E> {
        TaskGroup {
            state: Rc::new(GroupState {
                children: RefCell::new(Slab::new()),
                error: RefCell::new(None),
                waiter: RefCell::new(None),
            }),
        }
    }

    /// Spawns `future` into the group. Its `Ok` value is the output of the
    /// returned [`Task`]; an `Err` (or a panic) fails the whole group.
    /// Spawning into a group that already failed gives a task that is
    /// cancelled at once.
    ///
    /// Panics if no loop is running on this thread.
    #[track_caller]
    pub fn spawn<T, F>(&self, future: F) -> Task<T>
    where
        T: 'static,
        F: Future<Output = Result<T, E>> + 'static,
    {
        let location = Location::caller();
        // Spawning does not touch the slab, so this is the key `insert` gives.
        let key = self.state.children.borrow().vacant_key();
        let membership = Membership {
            state: self.state.clone(),
            key,
        };
        let child = async move {
            let state = membership.state.clone();
            let error = match CatchUnwind::new(future).await {
                Ok(Ok(value)) => return value,
                Ok(Err(error)) => GroupError::Failed(error),
                Err(payload) => GroupError::Panicked(payload),
            };
            state.fail(error);
            // `fail` cancelled us too: we are dropped at the next scheduling point.
            drop(membership);
            pending::<T>().await
        };
        let task: Task<T> =
            crate::runtime::spawn_on_current("TaskGroup::spawn", child, None, location);
        let inserted = self
            .state
            .children
            .borrow_mut()
            .insert(Rc::new(task.canceller()));
        debug_assert_eq!(inserted, key);
        if self.state.error.borrow().is_some() {
            task.cancel();
        }
        task
    }

    /// Cancels every child still running.
    pub fn cancel(&self) {
        self.state.cancel_all();
    }

    /// Children still running.
    pub fn len(&self) -> usize {
        self.state.children.borrow().len()
    }

    /// Whether no child is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for every child to finish; returns the first failure, if any.
    pub async fn join(self) -> Result<(), GroupError<E>> {
        poll_fn(|cx| {
            if self.state.children.borrow().is_empty() {
                Poll::Ready(())
            } else {
                *self.state.waiter.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        match self.state.error.borrow_mut().take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl<E> Drop for TaskGroup<E> {
    fn drop(&mut self) {
        self.state.cancel_all();
    }
}

impl<E> std::fmt::Debug for TaskGroup<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskGroup")
            .field("running", &self.state.children.borrow().len())
            .finish()
    }
}
