//! `interval`: ticks at a fixed period.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::sleep_until;
use crate::runtime::{now as loop_now, Sleep};

/// What an [`Interval`] does with ticks it missed because the task was busy
/// (or the loop blocked) past one or more periods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, one per `tick()`, until caught up;
    /// the schedule keeps its original phase. (The default, as in tokio.)
    #[default]
    Burst,
    /// Fire once now, then count periods from now: the schedule shifts.
    Delay,
    /// Fire once now, then continue at the next tick of the original
    /// schedule, dropping the missed ones.
    Skip,
}

/// Ticks every `period`, the first tick at once.
///
/// Panics if `period` is zero, or if no loop is running on this thread.
///
/// ```
/// use std::time::Duration;
/// corio::run(async {
///     let mut ticks = corio::time::interval(Duration::from_millis(5));
///     for _ in 0..3 {
///         ticks.tick().await;
///     }
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    let now = loop_now();
    interval_at(now, period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// Panics if `period` is zero.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "interval: the period must be greater than zero"
    );
    Interval {
        period,
        next: start,
        missed: MissedTickBehavior::default(),
        sleep: sleep_until(start),
    }
}

/// A schedule of ticks, from [`interval`].
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    next: Instant,
    missed: MissedTickBehavior,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick; returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(std::future::Future::poll(Pin::new(&mut self.sleep), cx));
        let scheduled = self.next;
        let now = loop_now();
        let mut next = scheduled + self.period;
        if next <= now {
            next = match self.missed {
                MissedTickBehavior::Burst => next,
                MissedTickBehavior::Delay => now + self.period,
                MissedTickBehavior::Skip => {
                    let behind = now.duration_since(scheduled).as_nanos();
                    let periods = behind / self.period.as_nanos() + 1;
                    let periods = u32::try_from(periods).unwrap_or(u32::MAX);
                    scheduled + self.period.saturating_mul(periods)
                }
            };
        }
        self.next = next;
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        let now = loop_now();
        self.next = now + self.period;
        self.sleep.reset(self.next);
    }
}

/// An `Interval` is a stream of its ticks (never ending).
impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
