//! The loop's timer handle: what fires when a timer comes due
//! ([`TimerAction`]), and [`Sleep`], the future that waits on the timer
//! driver (as the I/O `Registration` waits on the reactor). The user API
//! (`sleep`, `timeout`, `interval`) sits above tasks, in `crate::time`.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::callback::Callback;
use super::context;
use super::runnable::RawRunnable;
use crate::coop;
pub(crate) use crate::driver::timer::TimerKey;
use crate::driver::timer::TimerOrder;

/// What happens when a timer fires.
pub(crate) enum TimerAction {
    /// Wake a task (a `Sleep`); `None` until the first poll stores a waker.
    Wake(Option<Waker>),
    /// Put a `call_later` callback on the ready queue.
    Call(Rc<dyn Callback>),
    /// Put a raw runnable on the ready queue.
    Raw(RawRunnable),
}

impl TimerOrder for TimerAction {
    /// Callbacks run in exact-deadline order (asyncio's); tasks woken by
    /// sleeps due in the same millisecond, in the order they were scheduled
    /// (no sort for them).
    #[inline]
    fn needs_order(&self) -> bool {
        !matches!(self, TimerAction::Wake(_))
    }
}

/// `now + delay`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .unwrap_or_else(|| now + Duration::from_secs(60 * 60 * 24 * 365 * 30))
}

impl Sleep {
    /// A sleep of `duration` from now (from the first poll when no loop
    /// runs here yet).
    pub(crate) fn after(duration: Duration) -> Sleep {
        let deadline = match context::with_current(|core| deadline_after(core.now(), duration)) {
            Some(at) => Deadline::At(at),
            None => Deadline::After(duration),
        };
        Sleep {
            deadline,
            timer: None,
        }
    }

    /// A sleep whose deadline counts from its first poll: no clock read
    /// until then (a `timeout` around a future that is ready at once never
    /// reads it).
    pub(crate) fn from_first_poll(duration: Duration) -> Sleep {
        Sleep {
            deadline: Deadline::After(duration),
            timer: None,
        }
    }

    /// A sleep until `deadline`, an instant of the loop's clock.
    pub(crate) fn until(deadline: Instant) -> Sleep {
        Sleep {
            deadline: Deadline::At(deadline),
            timer: None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Deadline {
    At(Instant),
    /// Created outside a loop: resolved against the loop's clock when first polled.
    After(Duration),
}

/// The future returned by [`sleep`](crate::sleep) and
/// [`sleep_until`](crate::sleep_until). Dropping it cancels its timer.
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
            Deadline::At(at) => context::with_current(|core| core.now() >= at).unwrap_or(false),
            Deadline::After(_) => false,
        }
    }

    /// Moves the deadline (the sleep may already have elapsed; it waits again).
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel_timer();
        self.deadline = Deadline::At(deadline);
    }

    #[inline]
    fn cancel_timer(&mut self) {
        if let Some((loop_id, key)) = self.timer.take() {
            let action = context::with_loop(loop_id, |core| core.cancel_timer(key));
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
                    let at = deadline_after(core.now(), d);
                    this.deadline = Deadline::At(at);
                    at
                }
            };
            match this.timer {
                Some((loop_id, key)) if loop_id == core.id => {
                    if core.set_timer_waker(key, cx.waker()) {
                        return Poll::Pending;
                    }
                    // Fired: the deadline passed on the loop's clock.
                    this.timer = None;
                    coop::poll_proceed(cx)
                }
                _ => {
                    // The cached time is never ahead of the real one: a sleep
                    // it calls due is due. One it calls pending may in truth
                    // be due already; the timer then fires at the next poll.
                    if core.cached_now() >= deadline || (core.is_paused() && core.now() >= deadline)
                    {
                        return coop::poll_proceed(cx);
                    }
                    let key =
                        core.insert_timer(deadline, TimerAction::Wake(Some(cx.waker().clone())));
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
