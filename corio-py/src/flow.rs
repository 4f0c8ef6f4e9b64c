//! asyncio's write flow control (`_FlowControlMixin`) for the native
//! transports: the water marks, and whether the protocol was told to pause.

use std::cell::Cell;

/// The water marks (asyncio's defaults: 64 KiB high, 16 KiB low) and the
/// paused flag.
pub(crate) struct FlowControl {
    high: Cell<usize>,
    low: Cell<usize>,
    paused: Cell<bool>,
}

impl FlowControl {
    pub(crate) fn new() -> FlowControl {
        FlowControl {
            high: Cell::new(64 * 1024),
            low: Cell::new(16 * 1024),
            paused: Cell::new(false),
        }
    }

    /// Whether the protocol must be told `pause_writing()` now that `size`
    /// bytes are buffered (marks it paused when so).
    pub(crate) fn pause_now(&self, size: usize) -> bool {
        if size <= self.high.get() || self.paused.get() {
            return false;
        }
        self.paused.set(true);
        true
    }

    /// Whether the protocol must be told `resume_writing()` now that `size`
    /// bytes are buffered (marks it running when so).
    pub(crate) fn resume_now(&self, size: usize) -> bool {
        if !self.paused.get() || size > self.low.get() {
            return false;
        }
        self.paused.set(false);
        true
    }

    /// `(low, high)`, as asyncio's `get_write_buffer_limits`.
    pub(crate) fn limits(&self) -> (usize, usize) {
        (self.low.get(), self.high.get())
    }

    /// Sets validated limits (the Python half computes the defaults).
    pub(crate) fn set_limits(&self, high: usize, low: usize) {
        self.high.set(high);
        self.low.set(low);
    }

    pub(crate) fn paused(&self) -> bool {
        self.paused.get()
    }
}
