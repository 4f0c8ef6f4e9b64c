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

/// The key of the keyed waiter that holds the `first` place.
const FIRST: usize = usize::MAX;

/// The tasks waiting in one direction.
#[derive(Default)]
struct Waiters {
    /// The `poll_*` path's one waker.
    slot: Cell<Option<Waker>>,
    /// The first keyed waiter's waker: the common case of one task waiting
    /// costs no slab and no `RefCell`.
    first: Cell<Option<Waker>>,
    /// Whether a keyed waiter holds `first`.
    first_taken: Cell<bool>,
    /// Wakers of further keyed waiters; an entry is `None` once woken,
    /// until its waiter polls again or goes away.
    list: RefCell<Slab<Option<Waker>>>,
    /// `list.len()`, readable without a borrow.
    listed: Cell<usize>,
}

impl Waiters {
    #[inline(always)]
    fn wake_all(&self, wakers: &mut Vec<Waker>) {
        if let Some(waker) = self.slot.take() {
            wakers.push(waker);
        }
        if let Some(waker) = self.first.take() {
            wakers.push(waker);
        }
        if self.listed.get() > 0 {
            let mut list = self.list.borrow_mut();
            wakers.extend(list.iter_mut().filter_map(|(_, w)| w.take()));
        }
    }
}

/// Stores `waker` in `cell` unless it already holds one that wakes the
/// same task; the old waker is dropped after the cell is set.
fn store(cell: &Cell<Option<Waker>>, waker: &Waker) {
    let old = cell.take();
    match old {
        Some(w) if w.will_wake(waker) => cell.set(Some(w)),
        _ => {
            cell.set(Some(waker.clone()));
            drop(old);
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
    /// Level-triggered: the interest the backend has now (empty: the
    /// descriptor is not in the backend at all).
    pub(crate) level_interest: Cell<super::Interest>,
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
            level_interest: Cell::new(super::Interest::NONE),
            // Edge-triggered sources assume ready at first: the first
            // attempt finds out, saving a wait. Level-triggered ones wait
            // for the backend to say so.
            readiness: Cell::new(if level { 0 } else { READABLE | WRITABLE }),
            read: Waiters::default(),
            write: Waiters::default(),
        }
    }

    /// Whether the descriptor is level-triggered (a `Watch`).
    pub(crate) fn is_level(&self) -> bool {
        self.level
    }

    /// The backend reported `ready`: remember it and collect the wakers.
    #[inline]
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
    #[inline]
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.readiness.get() & dir.mask() != 0
    }

    /// Forgets readiness for `dir`: the last operation hit `WouldBlock`
    /// (edge-triggered), or the readiness was consumed (level-triggered;
    /// all of that direction's bits go, the backend reports them again).
    #[inline]
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
            None => store(&waiters.slot, cx.waker()),
            Some(key) if *key == Some(FIRST) => store(&waiters.first, cx.waker()),
            Some(key) if key.is_none() && !waiters.first_taken.get() => {
                waiters.first_taken.set(true);
                store(&waiters.first, cx.waker());
                *key = Some(FIRST);
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
                    None => {
                        *key = Some(list.insert(Some(cx.waker().clone())));
                        waiters.listed.set(list.len());
                    }
                }
            }
        }
    }

    /// A keyed waiter went away: leave its place.
    pub(crate) fn remove_waiter(&self, dir: Direction, key: usize) {
        let waiters = self.waiters(dir);
        if key == FIRST {
            waiters.first_taken.set(false);
            drop(waiters.first.take());
            return;
        }
        let removed = {
            let mut list = waiters.list.borrow_mut();
            let removed = list.try_remove(key);
            waiters.listed.set(list.len());
            removed
        };
        drop(removed); // outside the borrow
    }
}
