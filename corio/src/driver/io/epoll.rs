//! The epoll backend, through `mio` (edge-triggered registrations) and raw
//! `epoll_ctl` on mio's epoll descriptor (level-triggered ones, which mio
//! does not offer). mio reads both kinds of event alike.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest as MioInterest, Poll, Token};

use super::scheduled_io::{ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use super::{Backend, Interest, Mode, Notify, Polled};

/// The token of the eventfd that other threads write to wake the loop.
const WAKE_TOKEN: Token = Token(usize::MAX);

pub(crate) struct EpollBackend {
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    waker: Arc<MioNotify>,
}

struct MioNotify(mio::Waker);

impl Notify for MioNotify {
    fn notify(&self) -> io::Result<()> {
        self.0.wake()
    }
}

impl EpollBackend {
    /// A new epoll instance and the eventfd waker registered in it.
    pub(crate) fn new() -> io::Result<EpollBackend> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKE_TOKEN)?;
        Ok(EpollBackend {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(1024)),
            waker: Arc::new(MioNotify(waker)),
        })
    }

    /// `epoll_ctl` without `EPOLLET`, for level-triggered registrations.
    fn ctl_level(
        &self,
        op: libc::c_int,
        fd: RawFd,
        token: u64,
        interest: Interest,
    ) -> io::Result<()> {
        let mut events = libc::EPOLLRDHUP as u32;
        if interest.is_readable() {
            events |= libc::EPOLLIN as u32;
        }
        if interest.is_writable() {
            events |= libc::EPOLLOUT as u32;
        }
        let mut event = libc::epoll_event { events, u64: token };
        let epfd = self.poll.borrow().as_raw_fd();
        // SAFETY: epoll_ctl on our own epoll descriptor with a valid event
        // struct; `fd` is the caller's descriptor (an invalid one is an
        // error return, not undefined behaviour).
        if unsafe { libc::epoll_ctl(epfd, op, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Backend for EpollBackend {
    fn register(&self, fd: RawFd, token: u64, mode: Mode) -> io::Result<()> {
        match mode {
            Mode::Edge => self.poll.borrow().registry().register(
                &mut SourceFd(&fd),
                Token(token as usize),
                MioInterest::READABLE | MioInterest::WRITABLE,
            ),
            Mode::Level(interest) if interest.is_empty() => Ok(()),
            Mode::Level(interest) => self.ctl_level(libc::EPOLL_CTL_ADD, fd, token, interest),
        }
    }

    fn reregister(&self, fd: RawFd, token: u64, mode: Mode) -> io::Result<()> {
        match mode {
            Mode::Edge => self.poll.borrow().registry().reregister(
                &mut SourceFd(&fd),
                Token(token as usize),
                MioInterest::READABLE | MioInterest::WRITABLE,
            ),
            // No interest: out of epoll (a level-triggered hang-up would
            // otherwise be reported at every poll).
            Mode::Level(interest) if interest.is_empty() => {
                let _ = self.deregister(fd, token);
                Ok(())
            }
            Mode::Level(interest) => {
                match self.ctl_level(libc::EPOLL_CTL_MOD, fd, token, interest) {
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                        self.ctl_level(libc::EPOLL_CTL_ADD, fd, token, interest)
                    }
                    other => other,
                }
            }
        }
    }

    fn deregister(&self, fd: RawFd, _token: u64) -> io::Result<()> {
        self.poll.borrow().registry().deregister(&mut SourceFd(&fd))
    }

    fn poll(&self, timeout: Option<Duration>, out: &mut Vec<(u64, u8)>) -> io::Result<Polled> {
        self.poll_with(timeout, &mut |token, ready| out.push((token, ready)))
    }

    fn notifier(&self) -> Arc<dyn Notify> {
        self.waker.clone()
    }
}

impl EpollBackend {
    /// [`Backend::poll`], handing each event to `deliver` (inlined into the
    /// reactor's loop: no buffer, no indirect call per event).
    #[inline]
    pub(crate) fn poll_with(
        &self,
        timeout: Option<Duration>,
        deliver: &mut impl FnMut(u64, u8),
    ) -> io::Result<Polled> {
        let mut events = self.events.borrow_mut();
        let mut polled = Polled::default();
        match self.poll.borrow_mut().poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                polled.interrupted = true;
                return Ok(polled);
            }
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == WAKE_TOKEN {
                polled.notified = true;
                continue;
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
            deliver(event.token().0 as u64, ready);
        }
        Ok(polled)
    }
}
