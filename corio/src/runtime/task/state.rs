//! The task state machine: every change of a task's state is one named
//! transition here, and no other file touches the bits.
//!
//! The state lives in a `Cell`: only the loop thread reads or changes it
//! (wakes from other threads go through the loop's injection queue).
//!
//! ```text
//!            spawn                      poll returns Pending
//!   (new) ─────────> SCHEDULED ──> RUNNING ─────────────────> idle
//!                        ^   (to_running)  │  (to_idle: Park)   │
//!                        │                 │ woken while running │ woken
//!                        │ <── Requeue ────┘ (NOTIFIED)          │ (to_notified)
//!                        └───────────────────────────────────────┘
//!   RUNNING ── Ready / panic / cancel ──> COMPLETE (+ CANCELLED | PANICKED)
//! ```
//! `CANCEL_REQUESTED` and `DETACHED` are flags beside that cycle.

use std::cell::Cell;

/// In the ready queue (holding one reference).
const SCHEDULED: u8 = 1;
/// Being polled right now.
const RUNNING: u8 = 2;
/// The future finished or was dropped; the stage holds the output or nothing.
const COMPLETE: u8 = 4;
/// `cancel()` was called: drop the future at the next scheduling point.
const CANCEL_REQUESTED: u8 = 8;
/// The `Task` handle was dropped: nobody will read the output.
const DETACHED: u8 = 16;
/// Woken while running: go back to the ready queue after this poll.
const NOTIFIED: u8 = 32;
/// Completed by cancellation.
const CANCELLED: u8 = 64;
/// Completed by a panic.
const PANICKED: u8 = 128;

/// A task's state.
pub(crate) struct State(Cell<u8>);

/// What a wake on the loop thread asks of the caller.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Notified {
    /// Put the task on the ready queue (it is marked scheduled).
    Schedule,
    /// Nothing: already queued, complete, or running (then it is requeued
    /// after its poll).
    Nothing,
}

/// What the loop does with a task it took from the ready queue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// Poll its future.
    Poll,
    /// Drop its future: cancellation was requested.
    Cancel,
    /// Nothing: it completed while queued.
    AlreadyComplete,
}

/// What the loop does after a poll that returned `Pending`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Idle {
    /// It was woken while running: back to the ready queue.
    Requeue,
    /// Parked until a wake.
    Park,
}

/// How a task completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Completion {
    Finished,
    Cancelled,
    Panicked,
}

/// What a cancellation request asks of the caller.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cancel {
    /// Already complete: nothing to cancel.
    Done,
    /// Marked; the task will see it at its next scheduling point.
    Marked,
    /// Marked, and the idle task must be scheduled to see it.
    Schedule,
}

/// What a live task is doing (for `all_tasks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activity {
    Running,
    Scheduled,
    Waiting,
}

impl State {
    /// A new task, about to be put on the ready queue.
    pub(crate) fn new_scheduled() -> State {
        State(Cell::new(SCHEDULED))
    }

    fn get(&self) -> u8 {
        self.0.get()
    }

    fn set(&self, bits: u8) {
        self.0.set(bits);
    }

    /// A wake on the loop thread.
    pub(crate) fn to_notified(&self) -> Notified {
        let state = self.get();
        if state & (SCHEDULED | COMPLETE) != 0 {
            return Notified::Nothing;
        }
        if state & RUNNING != 0 {
            self.set(state | NOTIFIED);
            return Notified::Nothing;
        }
        self.set(state | SCHEDULED);
        Notified::Schedule
    }

    /// The fast path of a task waking itself while it runs: marks it
    /// notified and says so; `false` if it is not running.
    pub(crate) fn notify_if_running(&self) -> bool {
        let state = self.get();
        if state & RUNNING != 0 {
            self.set(state | NOTIFIED);
            true
        } else {
            false
        }
    }

    /// The loop took the task from the ready queue.
    pub(crate) fn to_running(&self) -> Start {
        let state = self.get();
        if state & COMPLETE != 0 {
            self.set(state & !(SCHEDULED | RUNNING));
            return Start::AlreadyComplete;
        }
        self.set((state & !SCHEDULED) | RUNNING);
        if state & CANCEL_REQUESTED != 0 {
            Start::Cancel
        } else {
            Start::Poll
        }
    }

    /// The poll returned `Pending`.
    pub(crate) fn to_idle(&self) -> Idle {
        let state = self.get() & !RUNNING;
        if state & NOTIFIED != 0 {
            self.set((state & !NOTIFIED) | SCHEDULED);
            Idle::Requeue
        } else {
            self.set(state);
            Idle::Park
        }
    }

    /// The future is gone (finished, cancelled or panicked). Returns whether
    /// the handle was dropped (nobody will read the output).
    pub(crate) fn to_complete(&self, how: Completion) -> bool {
        let mut state = (self.get() & !(RUNNING | NOTIFIED | SCHEDULED)) | COMPLETE;
        match how {
            Completion::Finished => {}
            Completion::Cancelled => state |= CANCELLED,
            Completion::Panicked => state |= PANICKED,
        }
        self.set(state);
        state & DETACHED != 0
    }

    /// `Task::cancel`.
    pub(crate) fn request_cancel(&self) -> Cancel {
        let state = self.get();
        if state & COMPLETE != 0 {
            return Cancel::Done;
        }
        if state & RUNNING != 0 {
            self.set(state | CANCEL_REQUESTED | NOTIFIED);
            return Cancel::Marked;
        }
        self.set(state | CANCEL_REQUESTED);
        if state & SCHEDULED == 0 {
            Cancel::Schedule
        } else {
            Cancel::Marked
        }
    }

    /// The `Task` handle was dropped.
    pub(crate) fn set_detached(&self) {
        self.set(self.get() | DETACHED);
    }

    /// Whether the future may be dropped right now (neither running nor
    /// already gone).
    pub(crate) fn can_drop_future(&self) -> bool {
        self.get() & (COMPLETE | RUNNING) == 0
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.get() & COMPLETE != 0
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.get() & CANCELLED != 0
    }

    pub(crate) fn is_panicked(&self) -> bool {
        self.get() & PANICKED != 0
    }

    pub(crate) fn activity(&self) -> Activity {
        let state = self.get();
        if state & RUNNING != 0 {
            Activity::Running
        } else if state & SCHEDULED != 0 {
            Activity::Scheduled
        } else {
            Activity::Waiting
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_runs_parks_is_woken_and_completes() {
        let s = State::new_scheduled();
        assert_eq!(s.activity(), Activity::Scheduled);
        assert_eq!(s.to_notified(), Notified::Nothing, "already queued");
        assert_eq!(s.to_running(), Start::Poll);
        assert_eq!(s.activity(), Activity::Running);
        assert_eq!(s.to_idle(), Idle::Park);
        assert_eq!(s.activity(), Activity::Waiting);
        assert_eq!(s.to_notified(), Notified::Schedule);
        assert_eq!(s.to_notified(), Notified::Nothing, "one queue entry");
        assert_eq!(s.to_running(), Start::Poll);
        assert!(!s.to_complete(Completion::Finished));
        assert!(s.is_complete() && !s.is_cancelled() && !s.is_panicked());
        assert_eq!(s.to_notified(), Notified::Nothing, "complete");
    }

    #[test]
    fn a_wake_while_running_requeues_once() {
        let s = State::new_scheduled();
        s.to_running();
        assert_eq!(s.to_notified(), Notified::Nothing);
        assert!(s.notify_if_running());
        assert_eq!(s.to_idle(), Idle::Requeue);
        assert_eq!(s.activity(), Activity::Scheduled);
        assert!(!s.notify_if_running());
    }

    #[test]
    fn cancellation_in_each_state() {
        // Idle: must be scheduled to see it.
        let s = State::new_scheduled();
        s.to_running();
        s.to_idle();
        assert_eq!(s.request_cancel(), Cancel::Schedule);
        assert_eq!(s.to_notified(), Notified::Schedule);
        assert_eq!(s.to_running(), Start::Cancel);
        s.to_complete(Completion::Cancelled);
        assert!(s.is_cancelled());
        assert_eq!(s.request_cancel(), Cancel::Done);
        // Queued: seen when it runs.
        let s = State::new_scheduled();
        assert_eq!(s.request_cancel(), Cancel::Marked);
        assert_eq!(s.to_running(), Start::Cancel);
        // Running (cancelling itself): requeued after the poll.
        let s = State::new_scheduled();
        s.to_running();
        assert_eq!(s.request_cancel(), Cancel::Marked);
        assert!(!s.can_drop_future());
        assert_eq!(s.to_idle(), Idle::Requeue);
        assert_eq!(s.to_running(), Start::Cancel);
    }

    #[test]
    fn detached_and_already_complete() {
        let s = State::new_scheduled();
        s.set_detached();
        s.to_running();
        assert!(s.to_complete(Completion::Panicked), "detached");
        assert!(s.is_panicked());
        assert!(!s.can_drop_future());
        // Completed while still queued (dropped at shutdown, say).
        let s = State::new_scheduled();
        s.to_complete(Completion::Cancelled);
        assert_eq!(s.to_running(), Start::AlreadyComplete);
        assert_eq!(s.to_idle(), Idle::Park);
    }
}
