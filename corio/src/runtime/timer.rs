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

impl Sleep {
    /// A sleep of `duration` from now (from the first poll when no loop
    /// runs here yet).
    pub(crate) fn after(duration: Duration) -> Sleep {
        let deadline = match context::with_current(|core| Deadline::on_loop(core, duration)) {
            Some(deadline) => deadline,
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
    /// `ns` on loop `loop_id`'s timeline, which starts at `base`: a sleep
    /// made (or first polled) on a loop files its timer there with no
    /// `Instant` arithmetic (the instant is `base + ns`, worked out only
    /// when asked).
    OnLoop {
        base: Instant,
        loop_id: u64,
        ns: u64,
    },
}

impl Deadline {
    /// `duration` from now on `core`'s clock.
    #[inline]
    fn on_loop(core: &super::core::Core, duration: Duration) -> Deadline {
        Deadline::OnLoop {
            base: core.clock_base(),
            loop_id: core.id,
            ns: core.ns_after(duration),
        }
    }

    /// The deadline as an instant (`None`: counts from the first poll).
    fn instant(&self) -> Option<Instant> {
        match *self {
            Deadline::At(at) => Some(at),
            Deadline::OnLoop { base, ns, .. } => Some(base + Duration::from_nanos(ns)),
            Deadline::After(_) => None,
        }
    }

    /// The deadline on `core`'s timeline, fixing it there if it counted
    /// from the first poll.
    #[inline]
    fn ns_on(&mut self, core: &super::core::Core) -> u64 {
        match *self {
            Deadline::OnLoop { loop_id, ns, .. } if loop_id == core.id => ns,
            Deadline::After(d) => {
                *self = Deadline::on_loop(core, d);
                match *self {
                    Deadline::OnLoop { ns, .. } => ns,
                    _ => unreachable!("just set"),
                }
            }
            at => core.ns_at(at.instant().expect("a fixed deadline")),
        }
    }
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
        self.deadline.instant()
    }

    /// Whether the deadline has passed (by the loop's clock).
    pub fn is_elapsed(&self) -> bool {
        match self.deadline {
            Deadline::OnLoop { loop_id, ns, .. } => context::with_current(|core| {
                if core.id == loop_id {
                    core.now_ns() >= ns
                } else {
                    core.now() >= self.deadline.instant().expect("fixed")
                }
            })
            .unwrap_or(false),
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
                    let deadline = this.deadline.ns_on(core);
                    // The cached time is never ahead of the real one: a sleep
                    // it calls due is due. One it calls pending may in truth
                    // be due already; the timer then fires at the next poll.
                    if core.cached_ns() >= deadline
                        || (core.is_paused() && core.now_ns() >= deadline)
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
