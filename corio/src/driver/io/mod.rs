//! The I/O driver: descriptors registered with a readiness [`Backend`]
//! (epoll, or io_uring's poll requests), each with a [`ScheduledIo`]
//! holding its readiness and waiters.
//!
//! The loop calls [`Reactor::poll`] once per iteration (or once every
//! `event_interval` runnables while work is ready); readiness is stored on
//! the registration and its waiters woken.
//!
//! Two modes: corio's own sources are edge-triggered (readiness is cached
//! until an operation hits `WouldBlock`); foreign descriptors watched the
//! way asyncio's `add_reader`/`add_writer` do are level-triggered (reported
//! at every poll while the condition lasts). A registration's token carries
//! a generation, so an event still queued for a descriptor deregistered in
//! the same poll is not taken for a new one under the same key.

mod buf_ring;
mod epoll;
#[cfg(test)]
pub(crate) mod poll_backend;
pub(crate) mod scheduled_io;
mod uring;
mod uring_stream;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use slab::Slab;

pub(crate) use epoll::EpollBackend;
pub(crate) use scheduled_io::{Direction, ScheduledIo};
pub(crate) use uring::UringBackend;
pub(crate) use uring_stream::StreamIo;

/// Which kernel interface a loop waits on for I/O readiness.
///
/// Chosen per runtime with [`Builder::io_backend`](crate::runtime::Builder::io_backend),
/// or for every runtime of a process with the `CORIO_IO_BACKEND`
/// environment variable (`epoll` or `io_uring`). Asking for io_uring where
/// the kernel refuses it is an error when the runtime is built, never a
/// silent fall-back to epoll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IoBackend {
    /// `epoll(7)`, edge-triggered for corio's own sockets (the default).
    #[default]
    Epoll,
    /// io_uring (Linux 5.13 or later): poll requests for readiness
    /// (multishot for corio's own descriptors, one-shot re-armed for
    /// level-triggered watches), and, from Linux 5.19, TCP and Unix stream
    /// sockets read and written through receive and send requests that
    /// reach the kernel with the loop's next wait (no system call each);
    /// `CORIO_IO_URING_STREAMS=readiness` keeps streams on
    /// `read(2)`/`write(2)`; `=completion` makes a kernel without
    /// provided-buffer rings an error instead of a fall-back to readiness. See [`TcpStream::is_completion_based`](crate::net::TcpStream::is_completion_based).
    IoUring,
}

impl IoBackend {
    /// The environment variable that picks the backend of runtimes whose
    /// builder was not told.
    pub const ENV: &'static str = "CORIO_IO_BACKEND";

    /// The backend named by `CORIO_IO_BACKEND` (epoll when it is unset or
    /// empty); an error naming the accepted values for anything else.
    pub fn from_env() -> io::Result<IoBackend> {
        match std::env::var(Self::ENV) {
            Err(std::env::VarError::NotPresent) => Ok(IoBackend::Epoll),
            Ok(value) => value.parse(),
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: {e}", Self::ENV),
            )),
        }
    }

    /// The name `CORIO_IO_BACKEND` takes for it.
    pub fn name(self) -> &'static str {
        match self {
            IoBackend::Epoll => "epoll",
            IoBackend::IoUring => "io_uring",
        }
    }
}

impl std::str::FromStr for IoBackend {
    type Err = io::Error;

    fn from_str(s: &str) -> io::Result<IoBackend> {
        match s.trim() {
            "" | "epoll" => Ok(IoBackend::Epoll),
            "io_uring" | "io-uring" | "uring" => Ok(IoBackend::IoUring),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "unknown I/O backend {other:?} (in {}): use \"epoll\" or \"io_uring\"",
                    IoBackend::ENV
                ),
            )),
        }
    }
}

impl std::fmt::Display for IoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which readiness a level-triggered registration asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Interest(u8);

impl Interest {
    /// Nothing: the descriptor stays registered but reports nothing.
    pub const NONE: Interest = Interest(0);
    /// Readable (and read-closed, error).
    pub const READABLE: Interest = Interest(1);
    /// Writable (and write-closed, error).
    pub const WRITABLE: Interest = Interest(2);
    /// Both directions.
    pub const BOTH: Interest = Interest(3);

    /// Whether reads are of interest.
    pub fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether writes are of interest.
    pub fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }

    /// Whether neither direction is.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// This interest with `other`'s added.
    pub fn with(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// This interest with `other`'s removed.
    pub fn without(self, other: Interest) -> Interest {
        Interest(self.0 & !other.0)
    }
}

/// How a descriptor is registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Edge-triggered, both directions (corio's own sources).
    Edge,
    /// Level-triggered, for the given directions (foreign descriptors).
    Level(Interest),
}

/// What one wait on the backend saw besides descriptor events.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Polled {
    /// The cross-thread wake-up fired.
    pub(crate) notified: bool,
    /// A signal interrupted the wait (`EINTR`): whoever installed a
    /// handler may want to run it now.
    pub(crate) interrupted: bool,
}

/// Wakes a backend blocked in [`Backend::poll`], from any thread.
pub(crate) trait Notify: Send + Sync {
    fn notify(&self) -> io::Result<()>;
}

/// A readiness backend: what the reactor needs of epoll, and what another
/// backend (io_uring with multishot poll, or `poll(2)`) implements to take
/// its place without the rest of the runtime changing.
///
/// Events are reported by token; the reactor maps tokens to registrations.
/// Readiness bits are those of [`scheduled_io`] (`READABLE`, `WRITABLE`,
/// `READ_CLOSED`, `WRITE_CLOSED`, `ERROR`).
pub(crate) trait Backend {
    /// Starts reporting `fd`'s readiness under `token`.
    fn register(&self, fd: RawFd, token: u64, mode: Mode) -> io::Result<()>;
    /// Changes what `fd` (registered under `token`) reports.
    fn reregister(&self, fd: RawFd, token: u64, mode: Mode) -> io::Result<()>;
    /// Stops reporting `fd`, registered under `token` (an error when it is
    /// already closed is fine).
    fn deregister(&self, fd: RawFd, token: u64) -> io::Result<()>;
    /// Waits up to `timeout` (`None`: until something happens) and appends
    /// `(token, readiness)` for each event to `events`.
    fn poll(&self, timeout: Option<Duration>, events: &mut Vec<(u64, u8)>) -> io::Result<Polled>;
    /// The handle other threads use to wake [`poll`](Backend::poll).
    fn notifier(&self) -> Arc<dyn Notify>;
}

/// A registration's token: its slab key, and its generation above bit 32.
fn token(key: usize, generation: u32) -> u64 {
    (key as u64 & 0xffff_ffff) | (u64::from(generation) << 32)
}

/// A token's slab key (what [`token`] put in its low 32 bits).
#[inline(always)]
fn token_key(token: u64) -> usize {
    (token & 0xffff_ffff) as usize
}

/// The backend a reactor runs on. epoll and io_uring are called directly
/// (their events go straight to the registrations, inlined: the hot path
/// of every iteration); any other [`Backend`] through the trait.
// One per loop: its size does not matter, a pointer chase per poll would.
#[allow(clippy::large_enum_variant)]
enum Driver {
    Epoll(EpollBackend),
    Uring(UringBackend),
    #[cfg_attr(not(test), allow(dead_code))]
    Other(Box<dyn Backend>),
}

impl Driver {
    fn backend(&self) -> &dyn Backend {
        match self {
            Driver::Epoll(epoll) => epoll,
            Driver::Uring(uring) => uring,
            Driver::Other(other) => &**other,
        }
    }
}

/// Every registered descriptor of one loop, over one backend.
pub(crate) struct Reactor {
    driver: Driver,
    /// One poll's events, for a backend other than epoll (reused).
    events: RefCell<Vec<(u64, u8)>>,
    sources: RefCell<Slab<Rc<ScheduledIo>>>,
    /// Counts registrations, so a reused slab key gets a new token.
    generation: Cell<u32>,
    /// Level-triggered registrations by descriptor: a foreign descriptor
    /// may be closed and its number reused without us being told.
    level_fds: RefCell<HashMap<RawFd, usize>>,
}

impl Reactor {
    /// A reactor over `backend`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn new(backend: Box<dyn Backend>) -> Reactor {
        Reactor::on(Driver::Other(backend))
    }

    fn on(driver: Driver) -> Reactor {
        Reactor {
            driver,
            events: RefCell::new(Vec::with_capacity(1024)),
            sources: RefCell::new(Slab::new()),
            generation: Cell::new(0),
            level_fds: RefCell::new(HashMap::new()),
        }
    }

    /// A reactor over `backend`; io_uring's errors say that it was
    /// io_uring that failed and how to choose epoll instead.
    pub(crate) fn with_backend(backend: IoBackend) -> io::Result<Reactor> {
        match backend {
            IoBackend::Epoll => Ok(Reactor::on(Driver::Epoll(EpollBackend::new()?))),
            IoBackend::IoUring => match UringBackend::new() {
                Ok(uring) => Ok(Reactor::on(Driver::Uring(uring))),
                Err(e) => Err(io::Error::new(
                    e.kind(),
                    format!(
                        "the io_uring I/O backend cannot start: {e} (choose epoll: \
                         {}=epoll, or Builder::io_backend(IoBackend::Epoll))",
                        IoBackend::ENV
                    ),
                )),
            },
        }
    }

    /// Which backend this reactor runs on (`None`: a test backend).
    pub(crate) fn io_backend(&self) -> Option<IoBackend> {
        match self.driver {
            Driver::Epoll(_) => Some(IoBackend::Epoll),
            Driver::Uring(_) => Some(IoBackend::IoUring),
            Driver::Other(_) => None,
        }
    }

    fn backend(&self) -> &dyn Backend {
        self.driver.backend()
    }

    /// Whether any descriptor is registered (the loop's own waker aside).
    pub(crate) fn has_sources(&self) -> bool {
        !self.sources.borrow().is_empty()
            || matches!(&self.driver, Driver::Uring(uring) if uring.has_streams())
    }

    /// The io_uring backend, for stream sockets read and written through
    /// its completions (`None` on epoll).
    pub(crate) fn uring(&self) -> Option<&UringBackend> {
        match &self.driver {
            Driver::Uring(uring) => Some(uring),
            _ => None,
        }
    }

    /// The handle other threads use to wake a blocked poll.
    pub(crate) fn notifier(&self) -> Arc<dyn Notify> {
        self.backend().notifier()
    }

    /// Waits up to `timeout` (forever for `None`) for readiness, stores it
    /// on the registrations and collects the wakers to wake into `wakers`.
    pub(crate) fn poll(
        &self,
        timeout: Option<Duration>,
        wakers: &mut Vec<Waker>,
    ) -> io::Result<Polled> {
        let sources = self.sources.borrow();
        let mut deliver = |token: u64, ready: u8| {
            let key = token_key(token);
            if let Some(io) = sources.get(key) {
                // An event for a descriptor deregistered since is dropped.
                if u64::from(io.generation) == token >> 32 {
                    io.set_ready(ready, wakers);
                }
            }
        };
        match &self.driver {
            Driver::Epoll(epoll) => epoll.poll_with(timeout, &mut deliver),
            Driver::Uring(uring) => {
                let polled = uring.poll_with(timeout, &mut deliver);
                uring.take_woken(wakers);
                polled
            }
            Driver::Other(other) => {
                let mut events = self.events.borrow_mut();
                let polled = other.poll(timeout, &mut events)?;
                for (token, ready) in events.drain(..) {
                    deliver(token, ready);
                }
                Ok(polled)
            }
        }
    }

    /// Registers `fd` (already non-blocking for edge mode).
    pub(crate) fn register(&self, fd: RawFd, mode: Mode) -> io::Result<Rc<ScheduledIo>> {
        let mut sources = self.sources.borrow_mut();
        let key = sources.vacant_key();
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        let level = matches!(mode, Mode::Level(_));
        let io = Rc::new(ScheduledIo::new(key, generation, level));
        let tok = token(key, generation);
        // A level registration still naming this number was left behind by
        // a close (the number reused behind its back): this registration
        // takes the number, and changing or dropping the old one must not
        // touch it. Its backend entry goes now (by token: on io_uring its
        // poll request would otherwise keep the old file open).
        let stale = self.level_fds.borrow_mut().remove(&fd);
        if let Some(old) = stale.and_then(|old| sources.get(old)) {
            if !old.level_interest.get().is_empty() {
                let _ = self
                    .backend()
                    .deregister(fd, token(old.key, old.generation));
            }
        }
        self.backend().register(fd, tok, mode)?;
        if let Mode::Level(interest) = mode {
            io.level_interest.set(interest);
            self.level_fds.borrow_mut().insert(fd, key);
        }
        sources.insert(io.clone());
        Ok(io)
    }

    /// Changes a level-triggered registration's interest: one system call
    /// (add, modify or delete, from what the backend has now), none when
    /// it stays empty.
    pub(crate) fn reregister(&self, fd: RawFd, io: &ScheduledIo, mode: Mode) -> io::Result<()> {
        if !self.owns(fd, io) {
            return Ok(()); // the descriptor belongs to a newer registration
        }
        let Mode::Level(new) = mode else {
            return self
                .backend()
                .reregister(fd, token(io.key, io.generation), mode);
        };
        let old = io.level_interest.get();
        let tok = token(io.key, io.generation);
        match (old.is_empty(), new.is_empty()) {
            (true, true) => {}
            (true, false) => self.backend().register(fd, tok, mode)?,
            (false, true) => {
                let _ = self.backend().deregister(fd, tok);
            }
            (false, false) => self.backend().reregister(fd, tok, mode)?,
        }
        io.level_interest.set(new);
        Ok(())
    }

    /// Whether `io` is (still) the registration of `fd`: a level one only
    /// while the number is mapped to it (a newer registration, level or
    /// edge, takes the number over); an edge one always (its owner closes
    /// the descriptor after deregistering).
    fn owns(&self, fd: RawFd, io: &ScheduledIo) -> bool {
        !io.is_level() || self.level_fds.borrow().get(&fd) == Some(&io.key)
    }

    /// Removes a registration; returns it so the caller drops its wakers
    /// outside the borrow.
    pub(crate) fn deregister(&self, fd: RawFd, io: &ScheduledIo) -> Option<Rc<ScheduledIo>> {
        // A level-triggered descriptor with no interest is not in the
        // backend: nothing to remove (and it may be closed by now).
        let in_backend = !io.is_level() || !io.level_interest.get().is_empty();
        if self.owns(fd, io) {
            if in_backend {
                // The fd may already be closed, which removed it from epoll.
                let _ = self.backend().deregister(fd, token(io.key, io.generation));
            }
            let mut level_fds = self.level_fds.borrow_mut();
            if level_fds.get(&fd) == Some(&io.key) {
                level_fds.remove(&fd);
            }
        }
        self.sources.borrow_mut().try_remove(io.key)
    }
}
