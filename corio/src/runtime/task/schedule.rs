//! The one door from a task to its loop (as tokio's `Schedule` trait and
//! async-task's schedule function are): putting a woken task on its loop's
//! ready queue, from any thread, and reporting what a task could not
//! return. The task cell reaches the loop through nothing else.

use super::raw::{ForeignTask, Header, TaskRef};
use crate::runtime::{context, shared, LoopError};

/// Schedules the task; `task` is the reference the ready queue will own.
/// Works from any thread: on the loop's own thread the task goes straight
/// to the ready queue (no lock, no system call); from elsewhere, through
/// the loop's injection queue. If the loop is gone, so is the task's
/// future, and the wake is dropped.
pub(crate) fn schedule(task: TaskRef) {
    let loop_id = task.header().loop_id;
    let mut slot = Some(task);
    if context::with_loop(loop_id, |core| {
        core.schedule_local(slot.take().expect("task"))
    })
    .is_some()
    {
        return;
    }
    let task = slot.expect("the loop was not current, so the task is still here");
    if let Some(shared) = shared::lookup(loop_id) {
        shared.inject_wake(ForeignTask(task));
    }
}

/// Runs `f` with loop `loop_id`'s core if it is the one running on this
/// thread.
pub(crate) fn on_own_loop<R>(
    loop_id: u64,
    f: impl FnOnce(&crate::runtime::core::Core) -> R,
) -> Option<R> {
    context::with_loop(loop_id, f)
}

/// Whether a waker of `header`'s task, being cloned now, takes over the
/// reference of the task's poll under way on this thread (see
/// [`running`](super::running)); if so the clone must count nothing.
#[inline]
pub(crate) fn lend_poll_ref(header: &Header) -> bool {
    context::with_current(|core| core.lend_poll_ref(header)).unwrap_or(false)
}

/// Hands a report (a panic nobody will see otherwise) to the running
/// loop's exception handler.
pub(crate) fn report(message: String) {
    context::report(LoopError::new(message));
}
