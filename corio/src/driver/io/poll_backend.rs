//! A `poll(2)` backend, for tests: proof that the runtime runs on another
//! [`Backend`] than epoll with nothing else changed. Level-triggered by
//! nature (corio's edge-triggered sources then see extra wake-ups, which
//! they tolerate); the cross-thread wake-up is a pipe.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use super::scheduled_io::{ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use super::{Backend, Mode, Notify, Polled};

pub(crate) struct PollBackend {
    fds: RefCell<HashMap<RawFd, (u64, Mode)>>,
    wake_read: OwnedFd,
    notify: Arc<PipeNotify>,
}

struct PipeNotify(OwnedFd);

impl Notify for PipeNotify {
    fn notify(&self) -> io::Result<()> {
        // SAFETY: write(2) of one byte from a valid buffer to our pipe.
        let n = unsafe { libc::write(self.0.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
        }
        Ok(())
    }
}

impl PollBackend {
    pub(crate) fn new() -> io::Result<PollBackend> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned here.
        let (read, write) = unsafe {
            use std::os::fd::FromRawFd;
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        };
        Ok(PollBackend {
            fds: RefCell::new(HashMap::new()),
            wake_read: read,
            notify: Arc::new(PipeNotify(write)),
        })
    }
}

impl Backend for PollBackend {
    fn register(&self, fd: RawFd, token: u64, mode: Mode) -> io::Result<()> {
        self.fds.borrow_mut().insert(fd, (token, mode));
        Ok(())
    }

    fn reregister(&self, fd: RawFd, token: u64, mode: Mode) -> io::Result<()> {
        self.register(fd, token, mode)
    }

    fn deregister(&self, fd: RawFd, _token: u64) -> io::Result<()> {
        self.fds.borrow_mut().remove(&fd);
        Ok(())
    }

    fn poll(&self, timeout: Option<Duration>, out: &mut Vec<(u64, u8)>) -> io::Result<Polled> {
        let mut pollfds = vec![libc::pollfd {
            fd: self.wake_read.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let mut tokens = vec![0];
        for (&fd, &(token, mode)) in self.fds.borrow().iter() {
            let events = match mode {
                Mode::Edge => libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP,
                Mode::Level(interest) => {
                    let mut e = libc::POLLRDHUP;
                    if interest.is_readable() {
                        e |= libc::POLLIN;
                    }
                    if interest.is_writable() {
                        e |= libc::POLLOUT;
                    }
                    e
                }
            };
            pollfds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
            tokens.push(token);
        }
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32 + 1);
        let ms = if timeout == Some(Duration::ZERO) {
            0
        } else {
            ms
        };
        // SAFETY: poll(2) over our own array of pollfd structs.
        let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, ms) };
        let mut polled = Polled::default();
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                polled.interrupted = true;
                return Ok(polled);
            }
            return Err(e);
        }
        if pollfds[0].revents != 0 {
            polled.notified = true;
            let mut sink = [0u8; 64];
            // SAFETY: read(2) into our own buffer from our own pipe.
            while unsafe { libc::read(self.wake_read.as_raw_fd(), sink.as_mut_ptr().cast(), 64) }
                > 0
            {}
        }
        for (pfd, &token) in pollfds.iter().zip(&tokens).skip(1) {
            let r = pfd.revents;
            if r == 0 {
                continue;
            }
            let mut ready = 0;
            if r & libc::POLLIN != 0 {
                ready |= READABLE;
            }
            if r & libc::POLLOUT != 0 {
                ready |= WRITABLE;
            }
            if r & (libc::POLLRDHUP | libc::POLLHUP) != 0 {
                ready |= READ_CLOSED;
            }
            if r & libc::POLLHUP != 0 {
                ready |= WRITE_CLOSED;
            }
            if r & (libc::POLLERR | libc::POLLNVAL) != 0 {
                ready |= ERROR;
            }
            out.push((token, ready));
        }
        Ok(polled)
    }

    fn notifier(&self) -> Arc<dyn Notify> {
        self.notify.clone()
    }
}
