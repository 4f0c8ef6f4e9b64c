//! The loop's I/O handle: a descriptor registered with the running loop's
//! reactor ([`Registration`]), and one future's place among its waiters
//! ([`Waiter`]). The readiness state itself lives in the I/O driver.

use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::context;
use crate::coop;
use crate::driver::io::{Direction, Interest, Mode, ScheduledIo};

/// A descriptor registered with the running loop's reactor; deregisters on
/// drop. Drop it before closing the descriptor.
pub(crate) struct Registration {
    state: Rc<ScheduledIo>,
    /// Its loop, to deregister from (running or not) when dropped.
    core: std::rc::Weak<super::core::Core>,
    loop_id: u64,
    fd: RawFd,
}

impl Registration {
    /// Registers `fd` (already non-blocking) for edge-triggered read and
    /// write readiness on the running loop.
    #[track_caller]
    pub(crate) fn new(fd: RawFd) -> io::Result<Registration> {
        Registration::with_mode(fd, Mode::Edge)
    }

    /// Registers `fd` in `mode` on the running loop.
    #[track_caller]
    pub(crate) fn with_mode(fd: RawFd, mode: Mode) -> io::Result<Registration> {
        context::expect_current("registering an I/O source", |core| {
            Registration::on(core, fd, mode)
        })
    }

    /// Registers `fd` in `mode` on `core` (running or not).
    pub(crate) fn on(core: &super::core::Core, fd: RawFd, mode: Mode) -> io::Result<Registration> {
        let state = core.reactor().register(fd, mode)?;
        Ok(Registration {
            state,
            core: core.weak(),
            loop_id: core.id,
            fd,
        })
    }

    /// Changes a level-triggered registration's interest.
    pub(crate) fn set_interest(&self, interest: Interest) -> io::Result<()> {
        match self.core.upgrade() {
            Some(core) => core
                .reactor()
                .reregister(self.fd, &self.state, Mode::Level(interest)),
            None => Err(io::Error::other("the watch's loop is closed")),
        }
    }

    /// Ready when the descriptor may be ready for `dir`; otherwise parks
    /// the task in the direction's single slot.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<()> {
        self.poll_ready_as(cx, dir, None)
    }

    /// Ready when the descriptor may be ready for `dir`; otherwise parks the
    /// task until the reactor says so (see [`ScheduledIo::poll_ready`]).
    #[inline]
    fn poll_ready_as(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        key: Option<&mut Option<usize>>,
    ) -> Poll<()> {
        if self.state.is_ready(dir) {
            return Poll::Ready(());
        }
        self.park(cx, dir, key)
    }

    /// `poll_ready_as` when not ready: check the loop, then park.
    #[inline]
    fn park(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        key: Option<&mut Option<usize>>,
    ) -> Poll<()> {
        self.check_loop();
        self.state.poll_ready(cx, dir, key)
    }

    /// A task about to park must be on the loop that will wake it: parking
    /// under another loop (or another runtime) would hang for ever.
    #[inline]
    #[track_caller]
    fn check_loop(&self) {
        let running = context::with_current(|core| core.id);
        if running != Some(self.loop_id) {
            wrong_loop(running.is_some());
        }
    }

    /// The last operation hit `WouldBlock`: wait for the next edge.
    pub(crate) fn clear_ready(&self, dir: Direction) {
        self.state.clear_ready(dir);
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

    #[inline(always)]
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

    #[inline(always)]
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
        // Running or not, the loop forgets the descriptor; once the loop is
        // gone, so is its epoll instance and with it the registration.
        if let Some(core) = self.core.upgrade() {
            let removed = core.reactor().deregister(self.fd, &self.state);
            drop(removed);
        }
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
    /// Ready when the descriptor may be ready; otherwise parks in the list.
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
    #[inline]
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
            self.registration.state.remove_waiter(self.dir, key);
        }
    }
}

/// The panic of [`Registration::check_loop`], out of the hot path.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn wrong_loop(other_loop_running: bool) -> ! {
    if other_loop_running {
        panic!(
            "corio: an I/O object registered on one corio loop was awaited on another; \
             a socket belongs to the loop it was created on (create it inside the task's \
             own loop, or hand the std socket across and wrap it there)"
        )
    }
    panic!(
        "corio: an I/O object was awaited with no corio loop running on this thread. \
         If this future runs under another runtime (tokio, async-std, smol, a \
         futures executor), run it inside `corio::run` / `Runtime::block_on` instead"
    )
}
