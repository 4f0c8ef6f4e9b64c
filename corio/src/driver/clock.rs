//! The loop's clock: the real monotonic clock, or a paused virtual one that
//! jumps to the next timer whenever every task waits.

use std::cell::Cell;
use std::time::{Duration, Instant};

pub(crate) struct Clock {
    paused: bool,
    base: Instant,
    offset: Cell<Duration>,
}

impl Clock {
    pub(crate) fn new(paused: bool) -> Clock {
        Clock {
            paused,
            base: Instant::now(),
            offset: Cell::new(Duration::ZERO),
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
