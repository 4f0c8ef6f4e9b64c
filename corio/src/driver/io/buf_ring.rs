//! A provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19): a
//! pool of equal receive buffers the kernel picks from when a receive
//! completes, so a connection waiting for data holds no buffer of its own.
//!
//! The ring is an array of `io_uring_buf { addr, len, bid, resv }` entries
//! shared with the kernel: we append at the tail (the `resv` field of entry
//! 0, published with a release store), the kernel consumes from its head. A
//! completion names the buffer it filled (`bid`); that buffer is ours until
//! [`BufRing::recycle`] hands it back.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::Cell;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

/// Size of one `io_uring_buf` entry.
const ENTRY: usize = 16;
/// The kernel wants the ring page-aligned.
const PAGE: usize = 4096;

/// A buffer pool registered with one ring under a group id.
pub(crate) struct BufRing {
    /// The entries shared with the kernel.
    ring: NonNull<u8>,
    ring_layout: Layout,
    /// The buffers, `count * len` bytes.
    memory: NonNull<u8>,
    memory_layout: Layout,
    count: u16,
    len: usize,
    /// Our copy of the tail (the kernel only reads it).
    tail: Cell<u16>,
}

impl BufRing {
    /// `count` buffers (a power of two) of `len` bytes each, every one
    /// offered to the kernel. Register it with [`BufRing::ring_addr`] next.
    pub(crate) fn new(count: u16, len: usize) -> io::Result<BufRing> {
        assert!(count.is_power_of_two() && len > 0);
        let ring_layout = Layout::from_size_align(count as usize * ENTRY, PAGE)
            .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
        let memory_layout = Layout::from_size_align(count as usize * len, 64)
            .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
        // SAFETY: both layouts have a non-zero size.
        let (ring, memory) = unsafe { (alloc_zeroed(ring_layout), alloc_zeroed(memory_layout)) };
        let (Some(ring), Some(memory)) = (NonNull::new(ring), NonNull::new(memory)) else {
            std::alloc::handle_alloc_error(ring_layout)
        };
        let pool = BufRing {
            ring,
            ring_layout,
            memory,
            memory_layout,
            count,
            len,
            tail: Cell::new(0),
        };
        for bid in 0..count {
            pool.push(bid);
        }
        pool.publish();
        Ok(pool)
    }

    /// The ring's address, for `register_buf_ring`.
    pub(crate) fn ring_addr(&self) -> u64 {
        self.ring.as_ptr() as u64
    }

    /// How many entries the ring has.
    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    /// The first `len` bytes of buffer `bid`.
    ///
    /// # Safety
    ///
    /// `bid` must be ours: named by a completion and not recycled since,
    /// so the kernel does not write into it while the slice lives.
    pub(crate) unsafe fn data(&self, bid: u16, len: usize) -> &[u8] {
        debug_assert!(bid < self.count && len <= self.len);
        // SAFETY: in bounds (checked above in debug builds, guaranteed by
        // the kernel's completion otherwise); the caller owns the buffer.
        unsafe {
            std::slice::from_raw_parts(self.memory.as_ptr().add(bid as usize * self.len), len)
        }
    }

    /// Hands buffer `bid` back to the kernel.
    pub(crate) fn recycle(&self, bid: u16) {
        self.push(bid);
        self.publish();
    }

    /// Writes entry `bid` at the tail (not yet visible to the kernel).
    fn push(&self, bid: u16) {
        let tail = self.tail.get();
        let index = (tail & (self.count - 1)) as usize;
        // SAFETY: `index < count`, so the entry is inside the ring; the
        // kernel reads only entries before the published tail, and this one
        // is at or after it. `resv` (the tail's place in entry 0) is left
        // alone.
        unsafe {
            let entry = self.ring.as_ptr().add(index * ENTRY);
            let addr = self.memory.as_ptr().add(bid as usize * self.len) as u64;
            entry.cast::<u64>().write(addr);
            entry.add(8).cast::<u32>().write(self.len as u32);
            entry.add(12).cast::<u16>().write(bid);
        }
        self.tail.set(tail.wrapping_add(1));
    }

    /// Makes the entries pushed so far visible to the kernel.
    fn publish(&self) {
        // SAFETY: offset 14 is entry 0's `resv`, the ring's tail: two
        // aligned bytes (the ring is page-aligned) that only we write.
        let tail = unsafe { &*self.ring.as_ptr().add(14).cast::<AtomicU16>() };
        tail.store(self.tail.get(), Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with these layouts. The owner drops the
        // pool only once the kernel can no longer write into it (the ring is
        // gone, or every receive was answered).
        unsafe {
            dealloc(self.ring.as_ptr(), self.ring_layout);
            dealloc(self.memory.as_ptr(), self.memory_layout);
        }
    }
}
