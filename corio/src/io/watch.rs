//! `Watch`: level-triggered readiness of a descriptor the caller owns, the
//! way asyncio's `add_reader` / `add_writer` watch a file descriptor.

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll};

use crate::driver::io::Direction;
pub use crate::driver::io::Interest;
use crate::runtime::registration::Registration;
use crate::Runtime;

/// A level-triggered watch on a raw descriptor (asyncio's `add_reader` /
/// `add_writer`): while the descriptor stays readable (or writable), every
/// loop iteration reports it again, whether or not anything was read.
/// corio's own sockets are edge-triggered instead; use a `Watch` for a
/// descriptor another library owns and reads itself.
///
/// The watch does not own the descriptor: drop the watch before closing
/// it (on the io_uring backend a descriptor closed first stays open until
/// the watch is dropped or changes interest: the kernel's poll request
/// holds the file). If the descriptor is closed first and its number reused
/// by a new watch or one of corio's sockets, the newcomer takes the number
/// over: changing or dropping the old watch does not touch its registration.
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use corio::io::{Interest, Watch};
/// corio::run(async {
///     let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
///     let watch = Watch::new(b.as_raw_fd(), Interest::READABLE).unwrap();
///     a.write_all(b"x").unwrap();
///     watch.readable().await;
///     // Not read: still readable at the next iteration (level-triggered).
///     watch.readable().await;
/// });
/// ```
pub struct Watch {
    registration: Registration,
    fd: RawFd,
    interest: Cell<Interest>,
}

impl Watch {
    /// Watches `fd` for `interest` on the running loop.
    ///
    /// Panics if no loop is running on this thread.
    #[track_caller]
    pub fn new(fd: RawFd, interest: Interest) -> io::Result<Watch> {
        let registration = Registration::with_mode(fd, crate::driver::io::Mode::Level(interest))?;
        Ok(Watch {
            registration,
            fd,
            interest: Cell::new(interest),
        })
    }

    /// Watches `fd` for `interest` on `runtime`, running or not (register
    /// first, run the loop after, as asyncio allows).
    pub fn on(runtime: &Runtime, fd: RawFd, interest: Interest) -> io::Result<Watch> {
        let registration =
            Registration::on(runtime.core(), fd, crate::driver::io::Mode::Level(interest))?;
        Ok(Watch {
            registration,
            fd,
            interest: Cell::new(interest),
        })
    }

    /// The watched descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// What is watched.
    pub fn interest(&self) -> Interest {
        self.interest.get()
    }

    /// Changes what is watched (asyncio's `remove_reader` on a descriptor
    /// that stays watched for writing, say), the loop running or not.
    pub fn set_interest(&self, interest: Interest) -> io::Result<()> {
        self.registration.set_interest(interest)?;
        self.interest.set(interest);
        Ok(())
    }

    /// Ready once the loop reports the descriptor readable (or closed, or
    /// in error); consumes that report, so the next call waits for the next
    /// iteration's. One waiter at a time through this method.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_direction(cx, Direction::Read)
    }

    /// As [`poll_readable`](Self::poll_readable), for writing.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_direction(cx, Direction::Write)
    }

    fn poll_direction(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<()> {
        std::task::ready!(self.registration.poll_ready(cx, dir));
        self.registration.clear_ready(dir);
        Poll::Ready(())
    }

    /// Waits until the loop reports the descriptor readable.
    pub async fn readable(&self) {
        poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// Waits until the loop reports the descriptor writable.
    pub async fn writable(&self) {
        poll_fn(|cx| self.poll_writable(cx)).await
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("fd", &self.fd)
            .field("interest", &self.interest.get())
            .finish()
    }
}
