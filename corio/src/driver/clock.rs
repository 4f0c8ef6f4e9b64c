//! The loop's clock: the real monotonic clock, or a paused virtual one that
//! jumps to the next timer whenever every task waits.
//!
//! Beside the exact reading, a *rough* one: the kernel's coarse monotonic
//! clock (the same timeline, updated once per scheduler tick), read in a
//! few nanoseconds where the exact clock takes tens on a virtual machine.
//! The loop asks it, each iteration with timers pending, whether a timer
//! could be due at all; only then does it read the exact clock.

use std::cell::Cell;
use std::time::{Duration, Instant};

pub(crate) struct Clock {
    paused: bool,
    base: Instant,
    offset: Cell<Duration>,
    /// `CLOCK_MONOTONIC` in nanoseconds, read just after `base`.
    base_ns: u64,
    /// How far the rough clock may trail the exact one (zero: the rough
    /// reading is the exact one).
    rough_slack: Duration,
}

impl Clock {
    pub(crate) fn new(paused: bool) -> Clock {
        let base = Instant::now();
        let base_ns = read_ns(libc::CLOCK_MONOTONIC).unwrap_or(0);
        // Two ticks of the coarse clock: it trails by less than one.
        let rough_slack = match (paused, coarse_resolution()) {
            (false, Some(res)) if res <= MAX_COARSE_RESOLUTION && base_ns > 0 => res * 2,
            _ => Duration::ZERO,
        };
        Clock {
            paused,
            base,
            offset: Cell::new(Duration::ZERO),
            base_ns,
            rough_slack,
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    #[inline]
    pub(crate) fn now(&self) -> Instant {
        if self.paused {
            self.base + self.offset.get()
        } else {
            Instant::now()
        }
    }

    /// The clock read cheaply: never ahead of [`now`](Self::now), and behind
    /// it by less than [`rough_slack`](Self::rough_slack).
    #[inline]
    pub(crate) fn rough_now(&self) -> Instant {
        if self.rough_slack.is_zero() {
            return self.now();
        }
        match read_ns(libc::CLOCK_MONOTONIC_COARSE) {
            // `base_ns` was read after `base`, so this is never ahead of the
            // exact clock (a coarse reading before `base_ns` counts as `base`).
            Some(ns) => self.base + Duration::from_nanos(ns.saturating_sub(self.base_ns)),
            None => self.now(),
        }
    }

    /// How far [`rough_now`](Self::rough_now) may trail the exact clock.
    #[inline]
    pub(crate) fn rough_slack(&self) -> Duration {
        self.rough_slack
    }

    /// Moves a paused clock forward to `to` (never backwards).
    pub(crate) fn advance_to(&self, to: Instant) {
        debug_assert!(self.paused);
        let offset = to.saturating_duration_since(self.base);
        if offset > self.offset.get() {
            self.offset.set(offset);
        }
    }

    /// Moves a paused clock forward by `by`.
    pub(crate) fn advance(&self, by: Duration) {
        self.offset.set(self.offset.get() + by);
    }
}

/// A coarse clock updated less often than this is not worth asking (the
/// loop would read the exact clock near every deadline anyway).
const MAX_COARSE_RESOLUTION: Duration = Duration::from_millis(10);

/// `clock` in nanoseconds (`None` if the kernel refuses it).
#[inline]
fn read_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64)
}

/// The coarse monotonic clock's resolution (its tick).
fn coarse_resolution() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as in `read_ns`.
    let rc = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (rc == 0 && (ts.tv_sec > 0 || ts.tv_nsec > 0))
        .then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rough_clock_is_never_ahead_nor_further_behind_than_its_slack() {
        let clock = Clock::new(false);
        assert!(
            clock.rough_slack() > Duration::ZERO,
            "this kernel has no usable coarse clock"
        );
        for _ in 0..200_000 {
            let before = clock.now();
            let rough = clock.rough_now();
            let after = clock.now();
            assert!(rough <= after, "rough clock ahead of the exact one");
            assert!(
                rough + clock.rough_slack() >= before,
                "rough clock {:?} behind",
                before - rough
            );
        }
    }

    #[test]
    fn a_paused_clock_reads_the_same_roughly_and_exactly() {
        let clock = Clock::new(true);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.rough_now(), clock.now());
        assert_eq!(clock.rough_slack(), Duration::ZERO);
    }
}
