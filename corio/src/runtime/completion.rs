//! A stream socket read and written through the running loop's io_uring
//! completions ([`CompletionStream`]), the loop-side handle of the
//! driver's `StreamIo`; what a socket uses instead of a readiness
//! [`Registration`](super::registration::Registration) when its loop runs
//! on io_uring in completion mode.

use std::cell::Cell;
use std::io::{self, IoSlice};
use std::os::fd::RawFd;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use super::context;
use super::core::Core;
use crate::coop;
use crate::driver::io::{StreamIo, UringBackend};

/// A stream socket in completion mode; closes its side of the requests
/// when dropped (drop it before closing the descriptor).
pub(crate) struct CompletionStream {
    io: Rc<StreamIo>,
    core: Weak<Core>,
    loop_id: u64,
}

impl CompletionStream {
    /// `fd` (a connected stream socket) in completion mode on the running
    /// loop, or `None` where that loop reads sockets on readiness (epoll,
    /// or io_uring in readiness mode) or none is running.
    pub(crate) fn for_running_loop(fd: RawFd) -> io::Result<Option<CompletionStream>> {
        context::with_current(|core| CompletionStream::on(core, fd)).unwrap_or(Ok(None))
    }

    /// `fd` in completion mode on `core`'s loop, running or not; `None`
    /// where that loop reads sockets on readiness.
    pub(crate) fn on(core: &Core, fd: RawFd) -> io::Result<Option<CompletionStream>> {
        let Some(uring) = core.reactor().uring() else {
            return Ok(None);
        };
        Ok(uring.open_stream(fd)?.map(|io| CompletionStream {
            io,
            core: core.weak(),
            loop_id: core.id,
        }))
    }

    /// Whether the running loop puts new stream sockets in completion mode.
    pub(crate) fn running_loop_uses() -> bool {
        context::with_current(|core| {
            core.reactor()
                .uring()
                .is_some_and(UringBackend::streams_in_completion_mode)
        })
        .unwrap_or(false)
    }

    /// Runs `f` with the loop's backend; panics (as a readiness wait does)
    /// if the stream's loop is not the one running.
    #[inline]
    #[track_caller]
    fn on_loop<R>(&self, f: impl FnOnce(&UringBackend) -> R) -> R {
        let found = context::with_current(|core| {
            if core.id != self.loop_id {
                return None;
            }
            Some(f(core
                .reactor()
                .uring()
                .expect("a completion stream on io_uring")))
        });
        match found {
            Some(Some(r)) => r,
            Some(None) => super::registration::wrong_loop(true),
            None => super::registration::wrong_loop(false),
        }
    }

    /// Reads into `buf` (0: end of stream). Spends one unit of budget.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(coop::poll_proceed(cx));
        self.on_loop(|uring| self.io.poll_read(cx, buf, uring))
    }

    /// Copies received bytes into `buf` without consuming them.
    pub(crate) fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.on_loop(|uring| self.io.poll_peek(cx, buf, uring))
    }

    /// Writes what fits of `bufs` (sent in the background, in order).
    /// Spends one unit of budget.
    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(coop::poll_proceed(cx));
        self.on_loop(|uring| self.io.poll_write(cx, bufs, uring))
    }

    /// Ready once everything written was sent.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_flush(cx)
    }

    /// `shutdown(2)`, the write side once what was written is sent.
    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }

    // ---- without waiting, for an owner that runs its own tasks ----------
    // (`io::CompletionSocket`). These find the backend through the stream's
    // own loop, not the running one: a transport may be written to while
    // its loop is stopped, as asyncio allows.

    /// Runs `f` with the stream's loop's backend; an error once the loop
    /// is gone.
    fn with_backend<R>(&self, f: impl FnOnce(&UringBackend) -> R) -> io::Result<R> {
        let core = self.core.upgrade().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotConnected, "the socket's loop was dropped")
        })?;
        let uring = core
            .reactor()
            .uring()
            .expect("a completion stream on io_uring");
        Ok(f(uring))
    }

    /// Ready when a read would not wait; queues a receive otherwise.
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.with_backend(|uring| self.io.poll_read_ready(cx, uring))
            .unwrap_or(Poll::Ready(()))
    }

    /// Reads received bytes into `buf`; `WouldBlock` if none came yet.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.with_backend(|uring| self.io.try_read(buf, uring))?
            .unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))
    }

    /// Hands up to `max` received bytes to `f` where they lie (an empty
    /// slice at the end of the stream); `WouldBlock` if none came yet.
    pub(crate) fn try_read_with<R>(&self, max: usize, f: impl FnOnce(&[u8]) -> R) -> io::Result<R> {
        self.with_backend(|uring| self.io.try_read_with(max, uring, f))?
            .unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))
    }

    /// Writes what fits of `bufs`; `WouldBlock` while the outgoing buffer
    /// is full.
    pub(crate) fn try_write(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.with_backend(|uring| self.io.try_write(bufs, uring))?
            .unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))
    }

    /// Bytes written and not yet sent.
    pub(crate) fn unsent(&self) -> usize {
        self.io.unsent()
    }

    /// The error a send failed with, if one did.
    pub(crate) fn send_error(&self) -> Option<io::Error> {
        self.io.send_error()
    }

    /// Ready when a send finished since `seen` (see `StreamIo`).
    pub(crate) fn poll_write_progress(&self, cx: &mut Context<'_>, seen: &Cell<u64>) -> Poll<()> {
        self.io.poll_write_progress(cx, seen)
    }

    /// Drops the unsent bytes (an abort).
    pub(crate) fn discard_unsent(&self) {
        self.io.discard_unsent();
    }
}

impl Drop for CompletionStream {
    fn drop(&mut self) {
        // Once the loop is gone, so is its ring and every request on it.
        if let Some(core) = self.core.upgrade() {
            if let Some(uring) = core.reactor().uring() {
                uring.close_stream(&self.io);
            }
        }
    }
}
