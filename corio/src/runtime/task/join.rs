//! `Task<T>`: the handle of a spawned task.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::raw::TaskRef;
use super::state::Cancel;
use super::{schedule, TaskError};
use crate::coop;

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
        self.raw.header().state.is_complete()
    }

    /// Whether the task finished by being cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.raw.header().state.is_cancelled()
    }

    /// The task's id, unique within its loop (ids count up from 1 and
    /// wrap after 2^56 tasks, kept in 7 bytes of the header).
    pub fn id(&self) -> u64 {
        self.raw.header().id()
    }

    /// The name given with [`spawn_named`](crate::spawn_named).
    pub fn name(&self) -> Option<&str> {
        self.raw.header().name()
    }

    /// Where the task was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.raw.header().location()
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
        self.raw.header().state.is_panicked()
    }

    /// A handle that can cancel the task later without owning its output
    /// (a `TaskGroup` keeps one per child).
    pub(crate) fn canceller(&self) -> Canceller {
        // SAFETY: `self.raw` is a live reference we hold.
        Canceller(unsafe { TaskRef::new_ref(self.raw.as_ptr()) })
    }
}

/// Cancels a task it does not own the output of (see [`Task::canceller`]).
pub(crate) struct Canceller(TaskRef);

impl Canceller {
    /// As [`Task::cancel`].
    pub(crate) fn cancel(&self) -> bool {
        cancel_raw(&self.0)
    }
}

/// Cancels the task and drops its future right now, unless it is the task
/// running (then as [`Task::cancel`]). For resources that must be released
/// synchronously, like a server's listening socket on `close()`.
pub(crate) fn cancel_now<T>(task: &Task<T>) {
    if !task.raw.header().state.can_drop_future() {
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
    match task.header().state.request_cancel() {
        Cancel::Done => false,
        Cancel::Marked => true,
        Cancel::Schedule => {
            // SAFETY: `task` is a live reference we hold.
            schedule::schedule(unsafe { TaskRef::new_ref(task.as_ptr()) });
            true
        }
    }
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
        // SAFETY: a `Task<T>` is made only for a task whose output is `T`.
        match unsafe { self.raw.take_output::<T>() } {
            Some(result) => Poll::Ready(result),
            None => panic!("a corio Task was polled again after it returned its output"),
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.raw.header().state.set_detached();
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
