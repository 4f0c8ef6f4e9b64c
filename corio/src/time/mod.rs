//! Time: [`sleep`], [`sleep_until`], [`interval`], [`timeout`] /
//! [`wait_for`], [`timeout_at`] and the loop's clock [`now`].
//!
//! All of them follow the loop's clock, which is virtual in a paused runtime
//! ([`Builder::paused`](crate::Builder::paused)): there, sleeping costs no
//! real time and timers fire in deadline order at once.
//!
//! Timers live in the loop's timer driver, a hierarchical timing wheel with
//! 1 ms ticks: a sleep never ends early, and ends at most about a
//! millisecond late; timers due together fire in exact-deadline order.

mod interval;
mod sleep;
mod timeout;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until};
pub use timeout::{timeout, timeout_at, wait_for, Elapsed, Timeout};

pub use crate::runtime::{now, Sleep};
