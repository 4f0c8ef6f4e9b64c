//! `Task<T>`: the handle of a spawned task.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::raw::{
    self, TaskRef, CANCELLED, CANCEL_REQUESTED, COMPLETE, DETACHED, NOTIFIED, RUNNING, SCHEDULED,
};
use super::{coop, TaskError};

/// A spawned task (asyncio's `Task`). Awaiting it gives the task's output,
/// or a [`TaskError`] saying it was cancelled or panicked.
///
/// Dropping a `Task` detaches it: the task keeps running and its output is
/// dropped. A panic nobody retrieves is reported on stderr. `Task` is
/// `!Send`: it belongs to its loop's thread.
///
/// ```
/// use corio::TaskError;
/// corio::run(async {
///     let task = corio::spawn(corio::sleep(std::time::Duration::from_secs(10)));
///     assert!(task.cancel());
///     assert!(matches!(task.await, Err(TaskError::Cancelled)));
/// });
/// ```
#[must_use = "dropping a Task detaches it; call .detach() to say so"]
pub struct Task<T> {
    raw: TaskRef,
    _marker: PhantomData<(T, Rc<()>)>,
}

impl<T> Task<T> {
    pub(crate) fn from_ref(raw: TaskRef) -> Task<T> {
        Task {
            raw,
            _marker: PhantomData,
        }
    }

    /// Requests cancellation: the task's future is dropped at its next
    /// scheduling point (destructors run) and awaiting it gives
    /// [`TaskError::Cancelled`]. Returns `false` if the task already finished.
    /// A task cancelling itself is dropped when it next yields.
    pub fn cancel(&self) -> bool {
        cancel_raw(&self.raw)
    }

    /// Whether the task finished (with a value, a panic, or cancelled).
    pub fn is_done(&self) -> bool {
        self.raw.header().state.get() & COMPLETE != 0
    }

    /// Whether the task finished by being cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.raw.header().state.get() & CANCELLED != 0
    }

    /// The task's id, unique within its loop.
    pub fn id(&self) -> u64 {
        self.raw.header().id
    }

    /// The name given with [`spawn_named`](crate::spawn_named).
    pub fn name(&self) -> Option<&str> {
        self.raw.header().name()
    }

    /// Where the task was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.raw.header().location
    }

    /// Lets the task run on with nobody awaiting it (the same as dropping
    /// the handle, said explicitly).
    pub fn detach(self) {}

    /// Ready once the task finished, without taking its output.
    pub(crate) fn poll_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_done() {
            Poll::Ready(())
        } else {
            self.raw.set_join_waker(cx.waker());
            Poll::Pending
        }
    }

    /// Whether the task finished by panicking (output not yet taken).
    pub(crate) fn is_panicked(&self) -> bool {
        self.is_done() && !self.is_cancelled() && self.raw.header().state.get() & raw::PANICKED != 0
    }

    pub(crate) fn raw(&self) -> &TaskRef {
        &self.raw
    }
}

/// Cancels the task and drops its future right now, unless it is the task
/// running (then as [`Task::cancel`]). For resources that must be released
/// synchronously, like a server's listening socket on `close()`.
pub(crate) fn cancel_now<T>(task: &Task<T>) {
    let state = task.raw.header().state.get();
    if state & (COMPLETE | RUNNING) != 0 {
        task.cancel();
        return;
    }
    let removed = crate::runtime::context::with_loop(task.raw.header().loop_id, |core| {
        core.cancel_now(&task.raw)
    });
    if removed.is_none() {
        task.cancel();
    }
}

/// Requests cancellation of the task behind `task` (see [`Task::cancel`]).
pub(crate) fn cancel_raw(task: &TaskRef) -> bool {
    let header = task.header();
    let state = header.state.get();
    if state & COMPLETE != 0 {
        return false;
    }
    header.state.set(state | CANCEL_REQUESTED);
    if state & RUNNING != 0 {
        header.state.set(state | CANCEL_REQUESTED | NOTIFIED);
    } else if state & SCHEDULED == 0 {
        raw::schedule(TaskRef::new_ref(task.as_ptr()));
    }
    true
}

// The handle holds no `T` itself; the output lives in the task's cell.
impl<T> Unpin for Task<T> {}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.is_done() {
            self.raw.set_join_waker(cx.waker());
            return Poll::Pending;
        }
        std::task::ready!(coop::poll_proceed(cx));
        match self.raw.take_output::<T>() {
            Some(result) => Poll::Ready(result),
            None => panic!("a corio Task was polled again after it returned its output"),
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        let header = self.raw.header();
        header.state.set(header.state.get() | DETACHED);
        self.raw.drop_output();
    }
}

impl<T> std::fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("location", &self.location())
            .field("done", &self.is_done())
            .finish()
    }
}
