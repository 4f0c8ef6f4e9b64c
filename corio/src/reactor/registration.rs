//! One file descriptor registered with the reactor: its last known
//! readiness and the wakers of the tasks waiting to read or write.

use std::cell::Cell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

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

/// Readiness and wakers of one registered descriptor (loop thread only).
pub(crate) struct IoState {
    pub(crate) key: usize,
    readiness: Cell<u8>,
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
}

impl IoState {
    pub(crate) fn new(key: usize) -> IoState {
        // Assume ready at first: the first attempt finds out, saving a wait.
        IoState {
            key,
            readiness: Cell::new(READABLE | WRITABLE),
            reader: Cell::new(None),
            writer: Cell::new(None),
        }
    }

    pub(crate) fn set_ready(&self, ready: u8, wakers: &mut Vec<Waker>) {
        self.readiness.set(self.readiness.get() | ready);
        if ready & Direction::Read.mask() != 0 {
            wakers.extend(self.reader.take());
        }
        if ready & Direction::Write.mask() != 0 {
            wakers.extend(self.writer.take());
        }
    }

    fn slot(&self, dir: Direction) -> &Cell<Option<Waker>> {
        match dir {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
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
    /// task until the reactor says so.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<()> {
        if self.state.readiness.get() & dir.mask() != 0 {
            return Poll::Ready(());
        }
        let slot = self.state.slot(dir);
        match slot.take() {
            Some(w) if w.will_wake(cx.waker()) => slot.set(Some(w)),
            _ => slot.set(Some(cx.waker().clone())),
        }
        Poll::Pending
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
    /// parking on readiness in between. Spends one unit of the task's budget.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        std::task::ready!(coop::poll_proceed(cx));
        loop {
            std::task::ready!(self.poll_ready(cx, dir));
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_ready(dir),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready(result),
            }
        }
    }
}

impl Registration {
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
        let result = std::task::ready!(self.poll_io(cx, dir, op));
        if let Ok(n) = result {
            if n > 0 && n < len {
                self.clear_ready(dir);
            }
        }
        Poll::Ready(result)
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
