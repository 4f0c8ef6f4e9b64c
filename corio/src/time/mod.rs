//! Time: [`sleep`], [`sleep_until`], [`interval`], [`timeout`] /
//! [`wait_for`], [`timeout_at`] and the loop's clock [`now`].
//!
//! All of them follow the loop's clock, which is virtual in a paused runtime
//! ([`Builder::paused`](crate::Builder::paused)): there, sleeping costs no
//! real time and timers fire in deadline order at once.
//!
//! Timers live in a hierarchical timing wheel with 1 ms ticks: a sleep never
//! ends early, and ends at most about a millisecond late.

mod interval;
mod sleep;
mod timeout;
pub(crate) mod timers;

use std::time::{Duration, Instant};

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, wait_for, Elapsed, Timeout};

use crate::runtime::context;

/// The running loop's clock (asyncio's `loop.time()`); virtual when the
/// runtime is paused.
///
/// Panics if no loop is running on this thread.
#[track_caller]
pub fn now() -> Instant {
    context::expect_current("corio::time::now", |core| core.clock.now())
}

/// `now + delay`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .unwrap_or_else(|| now + Duration::from_secs(60 * 60 * 24 * 365 * 30))
}
