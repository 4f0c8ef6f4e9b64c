//! Cooperative budget: a task may make at most `BUDGET` steps through
//! corio's own ready futures (timers, joins, I/O, sync) in one poll; after
//! that they report `Pending` once and reschedule it, so a task that never
//! meets a pending future still lets timers, I/O and other tasks run.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Steps per poll (tokio uses 128 as well).
pub(crate) const BUDGET: u8 = 128;

thread_local! {
    /// `None` outside a task poll: unconstrained.
    static REMAINING: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Gives the current poll a fresh budget; restores the previous one on drop.
pub(crate) struct BudgetGuard(Option<u8>);

impl BudgetGuard {
    #[inline]
    pub(crate) fn task() -> BudgetGuard {
        BudgetGuard(REMAINING.with(|r| r.replace(Some(BUDGET))))
    }
}

impl Drop for BudgetGuard {
    #[inline]
    fn drop(&mut self) {
        let _ = REMAINING.try_with(|r| r.set(self.0));
    }
}

/// Spends one step, or (budget gone) schedules the task again and says `Pending`.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    REMAINING.with(|r| match r.get() {
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            r.set(Some(n - 1));
            Poll::Ready(())
        }
        None => Poll::Ready(()),
    })
}
