//! One file descriptor registered with the reactor: its last known
//! readiness and the tasks waiting to read or write.
//!
//! Each direction keeps a single waker slot, the fast path for the
//! `poll_*` methods behind `AsyncRead`/`AsyncWrite` (one reader and one
//! writer at a time, as those traits imply), and a list of waiters for
//! futures made from `&self` (`recv_from`, `accept`, `read_with`, ...),
//! any number of which may wait at once. Each such future holds a
//! [`Waiter`] that leaves the list when it is dropped.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::runtime::context;
use crate::task::coop;

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
    fn mask(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }
}

/// The tasks waiting in one direction.
#[derive(Default)]
struct Waiters {
    /// The `poll_*` path's one waker.
    slot: Cell<Option<Waker>>,
    /// Wakers of [`Waiter`]s; an entry is `None` once woken, until its
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
pub(crate) struct IoState {
    pub(crate) key: usize,
    /// Told apart from an earlier registration under the same key, so a
    /// stale event for a closed descriptor is not taken for this one's.
    pub(crate) generation: u32,
    readiness: Cell<u8>,
    read: Waiters,
    write: Waiters,
}

impl IoState {
    pub(crate) fn new(key: usize, generation: u32) -> IoState {
        // Assume ready at first: the first attempt finds out, saving a wait.
        IoState {
            key,
            generation,
            readiness: Cell::new(READABLE | WRITABLE),
            read: Waiters::default(),
            write: Waiters::default(),
        }
    }

    pub(crate) fn set_ready(&self, ready: u8, wakers: &mut Vec<Waker>) {
        self.readiness.set(self.readiness.get() | ready);
        if ready & Direction::Read.mask() != 0 {
            self.read.wake_all(wakers);
        }
        if ready & Direction::Write.mask() != 0 {
            self.write.wake_all(wakers);
        }
    }

    fn waiters(&self, dir: Direction) -> &Waiters {
        match dir {
            Direction::Read => &self.read,
            Direction::Write => &self.write,
        }
    }
}

/// A descriptor registered with the running loop's reactor; deregisters on
/// drop. Drop it before closing the descriptor.
pub(crate) struct Registration {
    state: Rc<IoState>,
    loop_id: u64,
    fd: RawFd,
}

impl Registration {
    /// Registers `fd` (already non-blocking) for read and write readiness.
    #[track_caller]
    pub(crate) fn new(fd: RawFd) -> io::Result<Registration> {
        context::expect_current("registering an I/O source", |core| {
            let state = core.reactor.register(fd)?;
            Ok(Registration {
                state,
                loop_id: core.id,
                fd,
            })
        })
    }

    /// Ready when the descriptor may be ready for `dir`; otherwise parks the
    /// task until the reactor says so: in the direction's single slot, or
    /// in the waiter list under `*key` (taking a place there on the first
    /// wait) when `key` is given.
    fn poll_ready_as(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        key: Option<&mut Option<usize>>,
    ) -> Poll<()> {
        if self.state.readiness.get() & dir.mask() != 0 {
            return Poll::Ready(());
        }
        self.check_loop();
        let waiters = self.state.waiters(dir);
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
        Poll::Pending
    }

    /// A task about to park must be on the loop that will wake it: parking
    /// under another loop (or another runtime) would hang for ever.
    #[track_caller]
    fn check_loop(&self) {
        match context::with_current(|core| core.id) {
            Some(id) if id == self.loop_id => {}
            Some(_) => panic!(
                "corio: an I/O object registered on one corio loop was awaited on another; \
                 a socket belongs to the loop it was created on (create it inside the task's \
                 own loop, or hand the std socket across and wrap it there)"
            ),
            None => panic!(
                "corio: an I/O object was awaited with no corio loop running on this thread. \
                 If this future runs under another runtime (tokio, async-std, smol, a \
                 futures executor), run it inside `corio::run` / `Runtime::block_on` instead"
            ),
        }
    }

    /// The last operation hit `WouldBlock`: wait for the next edge.
    pub(crate) fn clear_ready(&self, dir: Direction) {
        let bit = match dir {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        };
        self.state.readiness.set(self.state.readiness.get() & !bit);
    }

    /// Runs the non-blocking `op` until it does not hit `WouldBlock`,
    /// parking on readiness in between (single slot). Spends one unit of
    /// the task's budget.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_as(cx, dir, None, op)
    }

    fn poll_io_as<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut key: Option<&mut Option<usize>>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        std::task::ready!(coop::poll_proceed(cx));
        loop {
            std::task::ready!(self.poll_ready_as(cx, dir, key.as_deref_mut()));
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_ready(dir),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready(result),
            }
        }
    }

    /// Like [`poll_io`](Self::poll_io) for a stream read or write of `len`
    /// bytes: a short transfer means the socket buffer was drained (or
    /// filled), so readiness is cleared at once and the next call waits for
    /// the next edge instead of spending a system call on `EAGAIN`.
    pub(crate) fn poll_io_len(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        len: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io_len_as(cx, dir, None, len, op)
    }

    fn poll_io_len_as(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        key: Option<&mut Option<usize>>,
        len: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let result = std::task::ready!(self.poll_io_as(cx, dir, key, op));
        if let Ok(n) = result {
            if n > 0 && n < len {
                self.clear_ready(dir);
            }
        }
        Poll::Ready(result)
    }

    /// A place in `dir`'s waiter list for one future made from `&self`.
    pub(crate) fn waiter(&self, dir: Direction) -> Waiter<'_> {
        Waiter {
            registration: self,
            dir,
            key: None,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Outside its loop (the loop is gone), the epoll instance is gone
        // too, and with it the registration.
        let removed = context::with_loop(self.loop_id, |core| {
            core.reactor.deregister(self.fd, &self.state)
        });
        drop(removed);
    }
}

/// One future's place among the waiters of a direction: any number of
/// tasks may wait on one descriptor through `&self` and each is woken.
/// Leaves the list when dropped (a cancelled wait leaves nothing behind).
pub(crate) struct Waiter<'a> {
    registration: &'a Registration,
    dir: Direction,
    key: Option<usize>,
}

impl Waiter<'_> {
    /// [`Registration::poll_ready`] for this waiter.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.registration
            .poll_ready_as(cx, self.dir, Some(&mut self.key))
    }

    /// [`Registration::poll_io`] for this waiter.
    pub(crate) fn poll_io<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.registration
            .poll_io_as(cx, self.dir, Some(&mut self.key), op)
    }

    /// [`Registration::poll_io_len`] for this waiter.
    pub(crate) fn poll_io_len(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.registration
            .poll_io_len_as(cx, self.dir, Some(&mut self.key), len, op)
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let waiters = self.registration.state.waiters(self.dir);
            let removed = waiters.list.borrow_mut().try_remove(key);
            drop(removed); // outside the borrow
        }
    }
}
