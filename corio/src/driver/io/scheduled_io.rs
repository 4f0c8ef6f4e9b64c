//! One registered descriptor's readiness and the tasks waiting on it.
//!
//! Each direction keeps a single waker slot, the fast path for the
//! `poll_*` methods behind `AsyncRead`/`AsyncWrite` (one reader and one
//! writer at a time, as those traits imply), and a list of waiters for
//! futures made from `&self` (`recv_from`, `accept`, `read_with`, ...),
//! any number of which may wait at once.

use std::cell::{Cell, RefCell};
use std::task::{Context, Poll, Waker};

use slab::Slab;

pub(crate) const READABLE: u8 = 1;
pub(crate) const WRITABLE: u8 = 2;
pub(crate) const READ_CLOSED: u8 = 4;
pub(crate) const WRITE_CLOSED: u8 = 8;
pub(crate) const ERROR: u8 = 16;

/// Which way an operation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The readiness bits that let an operation in this direction proceed
    /// (closed and error states too: the operation will report them).
    pub(crate) fn mask(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }

    /// The bit an operation clears when it hits `WouldBlock`.
    fn bit(self) -> u8 {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// The tasks waiting in one direction.
#[derive(Default)]
struct Waiters {
    /// The `poll_*` path's one waker.
    slot: Cell<Option<Waker>>,
    /// Wakers of keyed waiters; an entry is `None` once woken, until its
    /// waiter polls again or goes away.
    list: RefCell<Slab<Option<Waker>>>,
}

impl Waiters {
    fn wake_all(&self, wakers: &mut Vec<Waker>) {
        wakers.extend(self.slot.take());
        let mut list = self.list.borrow_mut();
        if !list.is_empty() {
            wakers.extend(list.iter_mut().filter_map(|(_, w)| w.take()));
        }
    }
}

/// Readiness and waiters of one registered descriptor (loop thread only).
pub(crate) struct ScheduledIo {
    pub(crate) key: usize,
    /// Told apart from an earlier registration under the same key, so a
    /// stale event for a closed descriptor is not taken for this one's.
    pub(crate) generation: u32,
    /// Level-triggered: readiness is not remembered between polls (the
    /// backend reports it again while it lasts).
    level: bool,
    readiness: Cell<u8>,
    read: Waiters,
    write: Waiters,
}

impl ScheduledIo {
    pub(crate) fn new(key: usize, generation: u32, level: bool) -> ScheduledIo {
        ScheduledIo {
            key,
            generation,
            level,
            // Edge-triggered sources assume ready at first: the first
            // attempt finds out, saving a wait. Level-triggered ones wait
            // for the backend to say so.
            readiness: Cell::new(if level { 0 } else { READABLE | WRITABLE }),
            read: Waiters::default(),
            write: Waiters::default(),
        }
    }

    /// The backend reported `ready`: remember it and collect the wakers.
    pub(crate) fn set_ready(&self, ready: u8, wakers: &mut Vec<Waker>) {
        self.readiness.set(self.readiness.get() | ready);
        if ready & Direction::Read.mask() != 0 {
            self.read.wake_all(wakers);
        }
        if ready & Direction::Write.mask() != 0 {
            self.write.wake_all(wakers);
        }
    }

    /// Whether the descriptor may be ready for `dir`.
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.readiness.get() & dir.mask() != 0
    }

    /// Forgets readiness for `dir`: the last operation hit `WouldBlock`
    /// (edge-triggered), or the readiness was consumed (level-triggered;
    /// all of that direction's bits go, the backend reports them again).
    pub(crate) fn clear_ready(&self, dir: Direction) {
        let bits = if self.level { dir.mask() } else { dir.bit() };
        self.readiness.set(self.readiness.get() & !bits);
    }

    fn waiters(&self, dir: Direction) -> &Waiters {
        match dir {
            Direction::Read => &self.read,
            Direction::Write => &self.write,
        }
    }

    /// Ready when the descriptor may be ready for `dir`; otherwise parks
    /// `cx`'s task: in the direction's single slot, or in the waiter list
    /// under `*key` (taking a place there on the first wait) when `key` is
    /// given.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        key: Option<&mut Option<usize>>,
    ) -> Poll<()> {
        if self.is_ready(dir) {
            return Poll::Ready(());
        }
        self.park(cx, dir, key);
        Poll::Pending
    }

    fn park(&self, cx: &mut Context<'_>, dir: Direction, key: Option<&mut Option<usize>>) {
        let waiters = self.waiters(dir);
        match key {
            None => {
                let old = waiters.slot.take();
                match old {
                    Some(w) if w.will_wake(cx.waker()) => waiters.slot.set(Some(w)),
                    _ => {
                        waiters.slot.set(Some(cx.waker().clone()));
                        drop(old);
                    }
                }
            }
            Some(key) => {
                let mut list = waiters.list.borrow_mut();
                match key.and_then(|k| list.get_mut(k)) {
                    Some(Some(w)) if w.will_wake(cx.waker()) => {}
                    Some(entry) => {
                        let old = entry.replace(cx.waker().clone());
                        drop(list);
                        drop(old);
                    }
                    None => *key = Some(list.insert(Some(cx.waker().clone()))),
                }
            }
        }
    }

    /// A keyed waiter went away: leave the list.
    pub(crate) fn remove_waiter(&self, dir: Direction, key: usize) {
        let removed = self.waiters(dir).list.borrow_mut().try_remove(key);
        drop(removed); // outside the borrow
    }
}
