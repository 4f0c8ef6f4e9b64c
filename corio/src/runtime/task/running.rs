//! Which task the loop is polling right now, and whether a waker cloned
//! during that poll took over the reference the poll runs on.
//!
//! A task that waits usually parks by cloning its waker during its poll
//! (into a wait list, a timer, an I/O registration) and returning
//! `Pending`; the loop then drops the reference the poll ran on. That is
//! two atomic reference-count changes, the clone's increment and the
//! drop's decrement, for a reference that only changes hands. Instead, the
//! first waker cloned on the loop's thread during the task's own poll
//! *takes over* the poll's reference: the clone counts nothing, and when
//! the poll ends the loop forgets its own reference (no longer counted)
//! rather than dropping it, or counts it again if it still needs it (to
//! requeue or complete the task).
//!
//! Sound because a task being polled is always held by the loop's registry
//! as well: it leaves the registry only once complete, or when its future
//! is dropped while it is not running. So while the poll's reference is
//! uncounted, the registry's keeps the cell alive, whatever happens to the
//! wakers meanwhile, on any thread.

use std::cell::Cell;
use std::ptr::NonNull;

use super::raw::Header;

/// Set in [`RunningTask`]'s word once the poll's reference is lent (task
/// headers are aligned, so a header's address never has it).
const LENT: usize = 1;

/// The task being polled on this loop, if any, and whether its poll's
/// reference was taken over by a waker: one word, the header's address
/// with [`LENT`] set once lent (0: no poll under way).
pub(crate) struct RunningTask(Cell<usize>);

impl RunningTask {
    pub(crate) fn new() -> RunningTask {
        RunningTask(Cell::new(0))
    }

    /// Marks `task` as being polled until the returned guard finishes (or
    /// is dropped, should the poll unwind). Polls nest: an eager spawn polls
    /// its new task inside the spawner's poll, so the guard puts back what
    /// was marked before.
    #[inline]
    pub(crate) fn start(&self, task: NonNull<Header>) -> Polling<'_> {
        let word = task.as_ptr() as usize;
        debug_assert_eq!(word & LENT, 0, "task headers are aligned");
        Polling {
            running: self,
            outer: self.0.replace(word),
        }
    }

    /// A waker of `task` is being cloned on this loop's thread: whether the
    /// clone takes over the poll's reference (it is `task`'s own poll, and
    /// no clone took it yet), and so must not count one of its own.
    #[inline]
    pub(crate) fn lend(&self, task: *const Header) -> bool {
        let word = task as usize;
        if self.0.get() == word {
            self.0.set(word | LENT);
            true
        } else {
            false
        }
    }
}

/// One poll, marked on its loop's [`RunningTask`].
pub(crate) struct Polling<'a> {
    running: &'a RunningTask,
    outer: usize,
}

impl Polling<'_> {
    /// Ends the poll: whether a waker took over its reference.
    #[inline]
    pub(crate) fn finish(self) -> bool {
        self.running.0.get() & LENT != 0
    }
}

impl Drop for Polling<'_> {
    #[inline]
    fn drop(&mut self) {
        self.running.0.set(self.outer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(n: usize) -> NonNull<Header> {
        // Only compared, never read.
        NonNull::new((n * 64) as *mut Header).unwrap()
    }

    #[test]
    fn only_the_first_clone_during_the_tasks_own_poll_takes_the_reference() {
        let running = RunningTask::new();
        let (a, b) = (fake(1), fake(2));
        assert!(!running.lend(a.as_ptr()), "no poll under way");
        let poll_a = running.start(a);
        assert!(!running.lend(b.as_ptr()), "another task's waker");
        assert!(running.lend(a.as_ptr()));
        assert!(!running.lend(a.as_ptr()), "taken once");
        // An eager spawn polls b inside a's poll.
        let poll_b = running.start(b);
        assert!(!running.lend(a.as_ptr()));
        assert!(!poll_b.finish());
        assert!(!running.lend(a.as_ptr()), "a's reference is still lent");
        assert!(poll_a.finish());
        assert!(!running.lend(a.as_ptr()), "the poll is over");
    }
}
