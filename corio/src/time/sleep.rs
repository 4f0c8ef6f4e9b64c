//! `sleep` and `sleep_until`.

use std::time::{Duration, Instant};

use crate::runtime::Sleep;

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
    Sleep::after(duration)
}

/// Waits until `deadline`, an instant of the loop's clock ([`super::now`]).
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::until(deadline)
}
