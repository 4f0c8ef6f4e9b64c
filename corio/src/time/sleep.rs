//! `sleep` and `sleep_until`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::timers::{TimerAction, TimerKey};
use crate::runtime::context;
use crate::task::coop;

/// Waits until `duration` has passed on the loop's clock (asyncio's `sleep`).
///
/// The deadline counts from this call when a loop is running, otherwise
/// from the first poll (so `corio::run(corio::sleep(d))` works). Polling it
/// outside a running loop panics with a message saying what to do.
///
/// ```
/// use std::time::Duration;
/// corio::run(corio::sleep(Duration::from_millis(1)));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let deadline =
        match context::with_current(|core| super::deadline_after(core.clock.now(), duration)) {
            Some(at) => Deadline::At(at),
            None => Deadline::After(duration),
        };
    Sleep {
        deadline,
        timer: None,
    }
}

/// A sleep whose deadline counts from its first poll: no clock read until
/// then (a `timeout` around a future that is ready at once never reads it).
pub(crate) fn sleep_from_first_poll(duration: Duration) -> Sleep {
    Sleep {
        deadline: Deadline::After(duration),
        timer: None,
    }
}

/// Waits until `deadline`, an instant of the loop's clock ([`super::now`]).
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline: Deadline::At(deadline),
        timer: None,
    }
}

#[derive(Clone, Copy, Debug)]
enum Deadline {
    At(Instant),
    /// Created outside a loop: resolved against the loop's clock when first polled.
    After(Duration),
}

/// The future returned by [`sleep`] and [`sleep_until`]. Dropping it
/// cancels its timer.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    deadline: Deadline,
    /// (loop id, timer) once registered.
    timer: Option<(u64, TimerKey)>,
}

impl Sleep {
    /// The deadline, once known (always, unless created outside a loop and not yet polled).
    pub fn deadline(&self) -> Option<Instant> {
        match self.deadline {
            Deadline::At(at) => Some(at),
            Deadline::After(_) => None,
        }
    }

    /// Whether the deadline has passed (by the loop's clock).
    pub fn is_elapsed(&self) -> bool {
        match self.deadline {
            Deadline::At(at) => {
                context::with_current(|core| core.clock.now() >= at).unwrap_or(false)
            }
            Deadline::After(_) => false,
        }
    }

    /// Moves the deadline (the sleep may already have elapsed; it waits again).
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel_timer();
        self.deadline = Deadline::At(deadline);
    }

    fn cancel_timer(&mut self) {
        if let Some((loop_id, key)) = self.timer.take() {
            let action = context::with_loop(loop_id, |core| core.timers.borrow_mut().cancel(key));
            drop(action);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        context::expect_current("polling corio::sleep", |core| {
            let deadline = match this.deadline {
                Deadline::At(at) => at,
                Deadline::After(d) => {
                    let at = super::deadline_after(core.clock.now(), d);
                    this.deadline = Deadline::At(at);
                    at
                }
            };
            match this.timer {
                Some((loop_id, key)) if loop_id == core.id => {
                    let mut timers = core.timers.borrow_mut();
                    if timers.contains(key) {
                        timers.set_waker(key, cx.waker());
                        return Poll::Pending;
                    }
                    // Fired: the deadline passed on the loop's clock.
                    drop(timers);
                    this.timer = None;
                    coop::poll_proceed(cx)
                }
                _ => {
                    // The cached time is never ahead of the real one: a sleep
                    // it calls due is due. One it calls pending may in truth
                    // be due already; the timer then fires at the next poll.
                    if core.cached_now() >= deadline
                        || (core.clock.is_paused() && core.clock.now() >= deadline)
                    {
                        return coop::poll_proceed(cx);
                    }
                    let key = core
                        .timers
                        .borrow_mut()
                        .insert(deadline, TimerAction::Wake(Some(cx.waker().clone())));
                    this.timer = Some((core.id, key));
                    Poll::Pending
                }
            }
        })
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel_timer();
    }
}
