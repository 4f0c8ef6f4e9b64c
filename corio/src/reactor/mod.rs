//! OS readiness: epoll through `mio`, edge-triggered, one registration per
//! file descriptor holding the wakers of its reader and writer.
//!
//! The loop calls [`Reactor::poll`] once per iteration (or once every
//! `event_interval` runnables while work is ready); readiness is stored on
//! the registration and the parked reader/writer woken.

mod registration;

use std::cell::RefCell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

pub(crate) use registration::{Direction, Registration};
use registration::{IoState, ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};

/// The token of the eventfd that other threads write to wake the loop.
const WAKE_TOKEN: Token = Token(usize::MAX);

pub(crate) struct Reactor {
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    sources: RefCell<Slab<Rc<IoState>>>,
    /// Counts registrations, so a reused slab key gets a new token.
    generation: std::cell::Cell<u32>,
}

/// A registration's token: its slab key, and its generation above bit 32.
fn token(key: usize, generation: u32) -> Token {
    Token((key & 0xffff_ffff) | ((generation as usize) << 32))
}

impl Reactor {
    /// A new epoll instance and the eventfd waker registered in it.
    pub(crate) fn new() -> io::Result<(Reactor, mio::Waker)> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKE_TOKEN)?;
        let reactor = Reactor {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(1024)),
            sources: RefCell::new(Slab::new()),
            generation: std::cell::Cell::new(0),
        };
        Ok((reactor, waker))
    }

    /// Waits up to `timeout` (forever for `None`) for readiness, stores it on
    /// the registrations and collects the wakers to wake into `wakers`.
    /// Returns whether the cross-thread eventfd fired.
    pub(crate) fn poll(
        &self,
        timeout: Option<Duration>,
        wakers: &mut Vec<Waker>,
    ) -> io::Result<bool> {
        let mut events = self.events.borrow_mut();
        match self.poll.borrow_mut().poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(e),
        }
        let mut notified = false;
        let sources = self.sources.borrow();
        for event in events.iter() {
            if event.token() == WAKE_TOKEN {
                notified = true;
                continue;
            }
            let Some(state) = sources.get(event.token().0 & 0xffff_ffff) else {
                continue;
            };
            if state.generation as usize != event.token().0 >> 32 {
                continue; // for a descriptor deregistered since
            }
            let mut ready = 0;
            if event.is_readable() {
                ready |= READABLE;
            }
            if event.is_writable() {
                ready |= WRITABLE;
            }
            if event.is_read_closed() {
                ready |= READ_CLOSED;
            }
            if event.is_write_closed() {
                ready |= WRITE_CLOSED;
            }
            if event.is_error() {
                ready |= ERROR;
            }
            state.set_ready(ready, wakers);
        }
        Ok(notified)
    }

    pub(crate) fn register(&self, fd: RawFd) -> io::Result<Rc<IoState>> {
        let mut sources = self.sources.borrow_mut();
        let entry = sources.vacant_entry();
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        let state = Rc::new(IoState::new(entry.key(), generation));
        self.poll.borrow().registry().register(
            &mut SourceFd(&fd),
            token(entry.key(), generation),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        entry.insert(state.clone());
        Ok(state)
    }

    /// Removes a registration; returns its wakers so the caller drops them
    /// outside the borrow.
    pub(crate) fn deregister(&self, fd: RawFd, state: &IoState) -> Option<Rc<IoState>> {
        // The fd may already be closed, which removed it from epoll: ignore errors.
        let _ = self.poll.borrow().registry().deregister(&mut SourceFd(&fd));
        self.sources.borrow_mut().try_remove(state.key)
    }
}
