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

/// The loop's clock. Besides `Instant`s (the public currency), it reads
/// the time as nanoseconds since its `base`: the loop's own timeline,
/// on which the timers run, read and compared as plain integers.
pub(crate) struct Clock {
    paused: bool,
    base: Instant,
    /// Paused: how far the virtual clock has moved, in nanoseconds.
    offset_ns: Cell<u64>,
    /// `CLOCK_MONOTONIC` in nanoseconds, read just after `base` (0 when
    /// the kernel refuses it: the timeline then counts from `base` through
    /// `Instant`).
    base_ns: u64,
    /// How far the rough clock may trail the exact one, in nanoseconds
    /// (zero: the rough reading is the exact one).
    rough_slack_ns: u64,
}

impl Clock {
    pub(crate) fn new(paused: bool) -> Clock {
        let base = Instant::now();
        let base_ns = read_ns(libc::CLOCK_MONOTONIC).unwrap_or(0);
        // Two ticks of the coarse clock: it trails by less than one.
        let rough_slack_ns = match (paused, coarse_resolution()) {
            (false, Some(res)) if res <= MAX_COARSE_RESOLUTION && base_ns > 0 => {
                2 * res.as_nanos() as u64
            }
            _ => 0,
        };
        Clock {
            paused,
            base,
            offset_ns: Cell::new(0),
            base_ns,
            rough_slack_ns,
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// The time as an `Instant`: exact (`Instant::now`), or virtual.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        if self.paused {
            self.instant_at(self.offset_ns.get())
        } else {
            Instant::now()
        }
    }

    /// The time on the loop's timeline, in nanoseconds since `base`.
    ///
    /// `base_ns` was read just after `base`, so this trails the `Instant`
    /// timeline by the few nanoseconds between the two reads: a deadline
    /// converted from an `Instant` ([`ns_at`](Self::ns_at)) fires that
    /// much late, never early, and an `Instant` converted from this
    /// timeline ([`instant_at`](Self::instant_at)) is never later than
    /// the moment it names.
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        if self.paused {
            return self.offset_ns.get();
        }
        match read_ns(libc::CLOCK_MONOTONIC) {
            Some(ns) if self.base_ns > 0 => ns.saturating_sub(self.base_ns),
            _ => self.ns_at(Instant::now()),
        }
    }

    /// The clock read cheaply, in nanoseconds: never ahead of
    /// [`now_ns`](Self::now_ns), and behind it by less than
    /// [`rough_slack_ns`](Self::rough_slack_ns).
    #[inline]
    pub(crate) fn rough_ns(&self) -> u64 {
        if self.rough_slack_ns == 0 {
            return self.now_ns();
        }
        match read_ns(libc::CLOCK_MONOTONIC_COARSE) {
            // A coarse reading from before `base_ns` counts as 0.
            Some(ns) => ns.saturating_sub(self.base_ns),
            None => self.now_ns(),
        }
    }

    /// How far [`rough_ns`](Self::rough_ns) may trail the exact clock.
    #[inline]
    pub(crate) fn rough_slack_ns(&self) -> u64 {
        self.rough_slack_ns
    }

    /// `at` on the loop's timeline (0 before `base`; saturating about 584
    /// years on).
    pub(crate) fn ns_at(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.base))
    }

    /// The instant the loop's timeline starts at.
    #[inline]
    pub(crate) fn base(&self) -> Instant {
        self.base
    }

    /// The instant `ns` names on the loop's timeline.
    pub(crate) fn instant_at(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns)
    }

    /// Moves a paused clock forward to `to` nanoseconds (never backwards).
    pub(crate) fn advance_to_ns(&self, to: u64) {
        debug_assert!(self.paused);
        if to > self.offset_ns.get() {
            self.offset_ns.set(to);
        }
    }

    /// Moves a paused clock forward by `by`.
    pub(crate) fn advance(&self, by: Duration) {
        self.offset_ns
            .set(self.offset_ns.get().saturating_add(nanos(by)));
    }
}

/// A duration in whole nanoseconds, saturating.
#[inline]
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
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
            clock.rough_slack_ns() > 0,
            "this kernel has no usable coarse clock"
        );
        for _ in 0..200_000 {
            let before = clock.now_ns();
            let rough = clock.rough_ns();
            let after = clock.now_ns();
            assert!(rough <= after, "rough clock ahead of the exact one");
            assert!(
                rough + clock.rough_slack_ns() >= before,
                "rough clock {} ns behind",
                before - rough
            );
        }
    }

    #[test]
    fn the_nanosecond_timeline_trails_instants_and_converts_both_ways() {
        let clock = Clock::new(false);
        for _ in 0..10_000 {
            let ns = clock.now_ns();
            let after = Instant::now();
            assert!(clock.instant_at(ns) <= after, "timeline ahead of Instant");
            assert_eq!(clock.ns_at(clock.instant_at(ns)), ns);
        }
        let later = Instant::now() + Duration::from_secs(5);
        let ns = clock.ns_at(later);
        assert!(clock.instant_at(ns) <= later);
        assert!(later - clock.instant_at(ns) < Duration::from_nanos(1));
        assert_eq!(clock.ns_at(clock.base() - Duration::from_secs(1)), 0);
    }

    #[test]
    fn a_paused_clock_reads_the_same_roughly_and_exactly() {
        let clock = Clock::new(true);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.rough_ns(), clock.now_ns());
        assert_eq!(clock.now_ns(), 1_500_000_000);
        assert_eq!(clock.now(), clock.instant_at(1_500_000_000));
        assert_eq!(clock.rough_slack_ns(), 0);
    }
}
