//! A stream socket read and written through io_uring completions (the
//! backend's completion mode): what one connection's reads and writes have
//! in flight and have brought back.
//!
//! - Reading: when a reader finds nothing buffered, one `RECV` is queued
//!   (it reaches the kernel with the loop's next wait, no system call of
//!   its own) with the buffer left for the kernel to pick from the loop's
//!   [`BufRing`] when data arrives, so a connection waiting for data holds
//!   no buffer. The filled buffer is read from until empty, then handed
//!   back. At most one receive is in flight and at most one buffer is held
//!   per connection, so a reader that stops reading stops the kernel from
//!   reading for it (TCP's own flow control, as with `read(2)`). If the
//!   pool is empty (`ENOBUFS`), that receive is queued again with a buffer
//!   of its own.
//! - Writing: a write copies the bytes into the connection's outgoing
//!   buffer and returns; one `SEND` at a time carries that buffer (so
//!   bytes leave in order), the next one whatever was written meanwhile.
//!   Writers wait only when `WRITE_LIMIT` bytes are outstanding; `flush`
//!   waits until none are. An error from a send is returned by the next
//!   write or flush (as a socket's asynchronous error is by `write(2)`).
//! - The owner dropping the stream with bytes outstanding leaves them to
//!   be sent (as `close(2)` on a socket leaves its send buffer): the
//!   descriptor is duplicated, and the copy closed after the last send.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::buf_ring::BufRing;

/// The largest outgoing buffer a connection keeps between writes.
const KEEP_CAPACITY: usize = 16 * 1024;

/// Bytes written but not yet sent above which writers wait.
const WRITE_LIMIT: usize = 256 * 1024;

/// The wakers of the tasks waiting on one side (any number may wait on a
/// socket shared by `&self`; each is woken).
#[derive(Default)]
struct Waiting(Vec<Waker>);

impl Waiting {
    fn register(&mut self, cx: &Context<'_>) {
        if !self.0.iter().any(|w| w.will_wake(cx.waker())) {
            self.0.push(cx.waker().clone());
        }
    }

    fn wake_into(&mut self, wakers: &mut Vec<Waker>) {
        wakers.append(&mut self.0);
    }
}

/// Where received bytes are.
enum Received {
    /// A buffer of the loop's pool, by id.
    Pooled(u16),
    /// The connection's own buffer (the pool was empty).
    Owned(Vec<u8>),
}

/// Received bytes not yet read: `buf[start..end]`.
struct Chunk {
    buf: Received,
    start: usize,
    end: usize,
}

impl Chunk {
    fn bytes<'a>(&'a self, pool: &'a BufRing) -> &'a [u8] {
        match &self.buf {
            // SAFETY: a completion named this buffer and it is recycled
            // only when the chunk is dropped (`ReadSide::release`).
            Received::Pooled(bid) => unsafe { &pool.data(*bid, self.end)[self.start..] },
            Received::Owned(v) => &v[self.start..self.end],
        }
    }
}

#[derive(Default)]
struct ReadSide {
    chunk: Option<Chunk>,
    eof: bool,
    error: Option<io::Error>,
    /// The receive in flight (its key in the backend's table).
    recv: Option<usize>,
    waiting: Waiting,
}

impl ReadSide {
    /// Drops the chunk, handing a pooled buffer back.
    fn release(&mut self, pool: &BufRing) {
        if let Some(Chunk {
            buf: Received::Pooled(bid),
            ..
        }) = self.chunk.take()
        {
            pool.recycle(bid);
        }
    }
}

#[derive(Default)]
struct WriteSide {
    /// Written, not yet handed to a send.
    pending: Vec<u8>,
    /// Bytes the send in flight carries (0: none in flight).
    sending: usize,
    /// The first send error, returned by every later write or flush.
    error: Option<i32>,
    /// `shutdown(Write)` was asked with bytes outstanding: done after them.
    shutdown_after: bool,
    /// The write side was shut down (writes fail with `BrokenPipe`).
    shut: bool,
    /// Sends finished or failed so far (progress, for a writer that waits
    /// for the outgoing buffer to shrink rather than for room).
    finished: u64,
    waiting: Waiting,
}

impl WriteSide {
    fn outstanding(&self) -> usize {
        self.sending + self.pending.len()
    }
}

/// What a completion asks of the backend next.
pub(crate) enum Next {
    Nothing,
    /// Queue a receive into this buffer of the connection's own.
    RecvOwned(Vec<u8>),
    /// Queue a send of `buf[done..]` (the rest of a short send).
    SendRest(Vec<u8>, usize),
    /// Queue a send of this buffer (bytes written while the last one flew).
    SendFollowing(Vec<u8>),
}

/// One connection in completion mode (see the module's docs).
pub(crate) struct StreamIo {
    fd: Cell<RawFd>,
    /// The owner dropped the stream: `fd` is then ours (a duplicate made
    /// for outstanding sends), closed after the last of them.
    orphaned: Cell<bool>,
    read: RefCell<ReadSide>,
    write: RefCell<WriteSide>,
}

/// The backend operations a stream needs (implemented by the io_uring
/// backend; a trait so this file does not depend on the ring's types).
pub(crate) trait StreamOps {
    /// The receive buffer pool.
    fn pool(&self) -> &BufRing;
    /// Queues a receive for `io` into the pool (or `owned`); its op key.
    fn queue_recv(&self, io: &Rc<StreamIo>, owned: Option<Vec<u8>>) -> io::Result<usize>;
    /// Queues a send of `buf[done..]` for `io`.
    fn queue_send(&self, io: &Rc<StreamIo>, buf: Vec<u8>, done: usize) -> io::Result<()>;
    /// Cancels receive `key` now (the owner is about to close the socket).
    fn cancel_recv(&self, key: usize);
}

impl StreamIo {
    pub(crate) fn new(fd: RawFd) -> Rc<StreamIo> {
        Rc::new(StreamIo {
            fd: Cell::new(fd),
            orphaned: Cell::new(false),
            read: RefCell::default(),
            write: RefCell::default(),
        })
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.get()
    }

    /// Reads buffered bytes into `buf`, or queues a receive and waits.
    pub(crate) fn poll_read(
        self: &Rc<Self>,
        cx: &Context<'_>,
        buf: &mut [u8],
        ops: &impl StreamOps,
    ) -> Poll<io::Result<usize>> {
        self.poll_take(cx, buf, ops, true)
    }

    /// Copies buffered bytes into `buf` without consuming them (`peek`).
    pub(crate) fn poll_peek(
        self: &Rc<Self>,
        cx: &Context<'_>,
        buf: &mut [u8],
        ops: &impl StreamOps,
    ) -> Poll<io::Result<usize>> {
        self.poll_take(cx, buf, ops, false)
    }

    fn poll_take(
        self: &Rc<Self>,
        cx: &Context<'_>,
        buf: &mut [u8],
        ops: &impl StreamOps,
        consume: bool,
    ) -> Poll<io::Result<usize>> {
        if let Some(done) = self.take(buf, ops.pool(), consume) {
            return Poll::Ready(done);
        }
        self.wait_for_data(cx, ops)?;
        Poll::Pending
    }

    /// Reads buffered bytes into `buf`; `None` if nothing came yet.
    pub(crate) fn try_read(
        &self,
        buf: &mut [u8],
        ops: &impl StreamOps,
    ) -> Option<io::Result<usize>> {
        self.take(buf, ops.pool(), true)
    }

    /// Hands up to `max` received bytes to `f` where they lie (no copy
    /// aside) and consumes them; `f` gets an empty slice at the end of the
    /// stream. `None` if nothing came yet. `f` must not read from this
    /// stream (the receive state is borrowed while it runs).
    pub(crate) fn try_read_with<R>(
        &self,
        max: usize,
        ops: &impl StreamOps,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Option<io::Result<R>> {
        self.take_with(max, ops.pool(), true, f)
    }

    /// Ready when a read would not wait (bytes, the end of the stream or an
    /// error came); otherwise queues a receive and waits for it.
    pub(crate) fn poll_read_ready(
        self: &Rc<Self>,
        cx: &Context<'_>,
        ops: &impl StreamOps,
    ) -> Poll<()> {
        let read = self.read.borrow();
        if read.chunk.is_some() || read.error.is_some() || read.eof {
            return Poll::Ready(());
        }
        drop(read);
        if let Err(e) = self.wait_for_data(cx, ops) {
            // The next read reports it.
            self.read.borrow_mut().error = Some(e);
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// What a read finds without waiting; `None`: nothing yet.
    fn take(&self, buf: &mut [u8], pool: &BufRing, consume: bool) -> Option<io::Result<usize>> {
        self.take_with(buf.len(), pool, consume, |bytes| {
            buf[..bytes.len()].copy_from_slice(bytes);
            bytes.len()
        })
    }

    /// [`take`](Self::take) with the bytes (at most `max`) handed to `f`.
    fn take_with<R>(
        &self,
        max: usize,
        pool: &BufRing,
        consume: bool,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Option<io::Result<R>> {
        let mut read = self.read.borrow_mut();
        if let Some(chunk) = &mut read.chunk {
            let bytes = chunk.bytes(pool);
            let n = bytes.len().min(max);
            let out = f(&bytes[..n]);
            if consume {
                chunk.start += n;
                if chunk.start == chunk.end {
                    read.release(pool);
                }
            }
            return Some(Ok(out));
        }
        if max == 0 {
            return Some(Ok(f(&[])));
        }
        if let Some(e) = read.error.take() {
            return Some(Err(e));
        }
        if read.eof {
            return Some(Ok(f(&[])));
        }
        None
    }

    /// Queues a receive (unless one is in flight) and registers `cx`.
    fn wait_for_data(self: &Rc<Self>, cx: &Context<'_>, ops: &impl StreamOps) -> io::Result<()> {
        let mut read = self.read.borrow_mut();
        if read.recv.is_none() {
            read.recv = Some(ops.queue_recv(self, None)?);
        }
        read.waiting.register(cx);
        Ok(())
    }

    /// A receive for this stream was queued again under `key`.
    pub(crate) fn recv_queued(&self, key: usize) {
        self.read.borrow_mut().recv = Some(key);
    }

    /// A receive completed with `result` (`flags` name the pooled buffer
    /// it filled; `owned` is the buffer it had of its own).
    pub(crate) fn on_recv(
        &self,
        result: i32,
        flags: u32,
        owned: Option<Vec<u8>>,
        pool: &BufRing,
        wakers: &mut Vec<Waker>,
    ) -> Next {
        let mut read = self.read.borrow_mut();
        read.recv = None;
        let pooled = io_uring::cqueue::buffer_select(flags);
        if self.orphaned.get() {
            // Nobody reads any more: hand the buffer straight back.
            if let Some(bid) = pooled {
                pool.recycle(bid);
            }
            return Next::Nothing;
        }
        if result == -libc::ENOBUFS {
            return Next::RecvOwned(owned.unwrap_or_else(|| vec![0; pool_buffer_len()]));
        }
        match result {
            n if n > 0 => {
                let buf = match (owned, pooled) {
                    (Some(v), _) => Received::Owned(v),
                    (None, Some(bid)) => Received::Pooled(bid),
                    (None, None) => unreachable!("a pooled receive names its buffer"),
                };
                read.chunk = Some(Chunk {
                    buf,
                    start: 0,
                    end: n as usize,
                });
            }
            0 => {
                if let Some(bid) = pooled {
                    pool.recycle(bid);
                }
                read.eof = true;
            }
            e if e == -libc::ECANCELED => {}
            e => read.error = Some(io::Error::from_raw_os_error(-e)),
        }
        read.waiting.wake_into(wakers);
        Next::Nothing
    }

    /// Copies what fits of `bufs` into the outgoing buffer, starting a send
    /// if none is in flight; waits while `WRITE_LIMIT` bytes are
    /// outstanding.
    pub(crate) fn poll_write(
        self: &Rc<Self>,
        cx: &Context<'_>,
        bufs: &[IoSlice<'_>],
        ops: &impl StreamOps,
    ) -> Poll<io::Result<usize>> {
        match self.try_write(bufs, ops) {
            Some(done) => Poll::Ready(done),
            None => {
                self.write.borrow_mut().waiting.register(cx);
                Poll::Pending
            }
        }
    }

    /// As [`poll_write`](Self::poll_write), without waiting: `None` while
    /// `WRITE_LIMIT` bytes are outstanding.
    pub(crate) fn try_write(
        self: &Rc<Self>,
        bufs: &[IoSlice<'_>],
        ops: &impl StreamOps,
    ) -> Option<io::Result<usize>> {
        let mut write = self.write.borrow_mut();
        if let Some(code) = write.error {
            return Some(Err(io::Error::from_raw_os_error(code)));
        }
        if write.shut || write.shutdown_after {
            return Some(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the write side was shut down",
            )));
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Some(Ok(0));
        }
        let outstanding = write.outstanding();
        if outstanding >= WRITE_LIMIT {
            return None;
        }
        let mut room = WRITE_LIMIT - outstanding;
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(room);
            write.pending.extend_from_slice(&b[..take]);
            n += take;
            room -= take;
            if room == 0 {
                break;
            }
        }
        if write.sending == 0 {
            let buf = std::mem::take(&mut write.pending);
            write.sending = buf.len();
            drop(write);
            if let Err(e) = ops.queue_send(self, buf, 0) {
                self.write.borrow_mut().sending = 0;
                return Some(Err(e));
            }
        }
        Some(Ok(n))
    }

    /// Bytes written and not yet sent.
    pub(crate) fn unsent(&self) -> usize {
        self.write.borrow().outstanding()
    }

    /// The error a send failed with (every later write fails with it).
    pub(crate) fn send_error(&self) -> Option<io::Error> {
        self.write.borrow().error.map(io::Error::from_raw_os_error)
    }

    /// Ready when a send finished (or failed) since `seen` was last
    /// updated, or when nothing is outstanding; updates `seen`.
    pub(crate) fn poll_write_progress(&self, cx: &Context<'_>, seen: &Cell<u64>) -> Poll<()> {
        let mut write = self.write.borrow_mut();
        if write.error.is_some() || write.outstanding() == 0 || write.finished != seen.get() {
            seen.set(write.finished);
            return Poll::Ready(());
        }
        write.waiting.register(cx);
        Poll::Pending
    }

    /// Drops what is written and not yet in flight, and makes the send in
    /// flight fail soon (`shutdown(SHUT_WR)`), as closing a socket drops a
    /// transport's buffer: for an abort, where a peer that does not read
    /// must not hold the connection open.
    pub(crate) fn discard_unsent(&self) {
        let mut write = self.write.borrow_mut();
        write.pending.clear();
        if write.sending > 0 && !write.shut {
            write.shut = true;
            write.shutdown_after = false;
            let _ = shutdown_fd(self.fd(), libc::SHUT_WR);
        }
    }

    /// Ready once every written byte was sent (or a send failed).
    pub(crate) fn poll_flush(&self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        let mut write = self.write.borrow_mut();
        if let Some(code) = write.error {
            return Poll::Ready(Err(io::Error::from_raw_os_error(code)));
        }
        if write.outstanding() == 0 {
            return Poll::Ready(Ok(()));
        }
        write.waiting.register(cx);
        Poll::Pending
    }

    /// `shutdown(2)`; shutting the write side down with bytes outstanding
    /// is done once they are sent.
    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        use std::net::Shutdown;
        let mut write = self.write.borrow_mut();
        let write_too = matches!(how, Shutdown::Write | Shutdown::Both);
        if write_too && write.outstanding() > 0 {
            write.shutdown_after = true;
            if how == Shutdown::Both {
                return shutdown_fd(self.fd(), libc::SHUT_RD);
            }
            return Ok(());
        }
        if write_too {
            write.shut = true;
        }
        let how = match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        shutdown_fd(self.fd(), how)
    }

    /// A send completed with `result` after `done` bytes of `buf` had been
    /// sent by earlier completions.
    pub(crate) fn on_send(
        &self,
        result: i32,
        mut buf: Vec<u8>,
        done: usize,
        wakers: &mut Vec<Waker>,
    ) -> Next {
        let mut write = self.write.borrow_mut();
        if result < 0 || (result == 0 && done < buf.len()) {
            let code = if result < 0 { -result } else { libc::EPIPE };
            write.error.get_or_insert(code);
            write.pending.clear();
            write.sending = 0;
            write.finished += 1;
            write.waiting.wake_into(wakers);
            drop(write);
            self.close_if_orphaned();
            return Next::Nothing;
        }
        let done = done + result as usize;
        if done < buf.len() {
            return Next::SendRest(buf, done);
        }
        write.finished += 1;
        write.waiting.wake_into(wakers);
        // The sent buffer serves the next writes, unless it is big: a
        // connection that once wrote a lot should not keep that memory.
        buf.clear();
        let spare = if buf.capacity() <= KEEP_CAPACITY {
            buf
        } else {
            Vec::new()
        };
        if !write.pending.is_empty() {
            let next = std::mem::replace(&mut write.pending, spare);
            write.sending = next.len();
            return Next::SendFollowing(next);
        }
        write.sending = 0;
        if write.pending.capacity() == 0 {
            write.pending = spare;
        }
        if write.shutdown_after {
            write.shutdown_after = false;
            write.shut = true;
            let _ = shutdown_fd(self.fd(), libc::SHUT_WR);
        }
        drop(write);
        self.close_if_orphaned();
        Next::Nothing
    }

    /// A queued send could not be handed to the kernel.
    pub(crate) fn send_failed(&self, e: &io::Error, wakers: &mut Vec<Waker>) {
        let mut write = self.write.borrow_mut();
        write
            .error
            .get_or_insert(e.raw_os_error().unwrap_or(libc::EIO));
        write.sending = 0;
        write.pending.clear();
        write.finished += 1;
        write.waiting.wake_into(wakers);
        drop(write);
        self.close_if_orphaned();
    }

    /// The owner drops the stream (its descriptor closes right after):
    /// cancels the receive, hands the buffer back, and keeps a duplicate of
    /// the descriptor for the bytes still to send.
    pub(crate) fn close(&self, ops: &impl StreamOps) {
        let mut read = self.read.borrow_mut();
        read.release(ops.pool());
        read.waiting.0.clear();
        read.eof = true;
        let recv = read.recv;
        drop(read);
        self.orphaned.set(true);
        let mut write = self.write.borrow_mut();
        write.waiting.0.clear();
        if write.outstanding() == 0 {
            self.fd.set(-1); // nothing of ours to close later
        } else {
            // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor the owner
            // still holds open.
            let dup = unsafe { libc::fcntl(self.fd(), libc::F_DUPFD_CLOEXEC, 0) };
            // Without a descriptor the bytes not yet in flight are lost
            // with the socket (the send in flight holds the file itself).
            if dup < 0 {
                write.pending.clear();
            }
            self.fd.set(dup);
        }
        drop(write);
        if let Some(key) = recv {
            ops.cancel_recv(key);
        }
    }

    /// Closes our duplicate once nothing more is to be sent on it.
    fn close_if_orphaned(&self) {
        let fd = self.fd.get();
        if self.orphaned.get() && fd >= 0 && self.write.borrow().outstanding() == 0 {
            self.fd.set(-1);
            // SAFETY: `fd` is the duplicate `close` made, owned here.
            unsafe { libc::close(fd) };
        }
    }
}

impl Drop for StreamIo {
    fn drop(&mut self) {
        // Sends dropped unanswered (the loop closed): close the duplicate.
        let fd = self.fd.get();
        if self.orphaned.get() && fd >= 0 {
            // SAFETY: as in `close_if_orphaned`.
            unsafe { libc::close(fd) };
        }
    }
}

/// The length of each pooled buffer, and of a buffer of a connection's
/// own when the pool is empty.
pub(crate) const fn pool_buffer_len() -> usize {
    16 * 1024
}

fn shutdown_fd(fd: RawFd, how: i32) -> io::Result<()> {
    // SAFETY: shutdown(2) on a descriptor number; a bad one is an error.
    if unsafe { libc::shutdown(fd, how) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `len` bytes from a buffer of `capacity` and completes them.
    fn send_and_complete(io: &StreamIo, len: usize, capacity: usize) {
        let mut buf = Vec::with_capacity(capacity);
        buf.resize(len, 7);
        io.write.borrow_mut().sending = len;
        let next = io.on_send(len as i32, buf, 0, &mut Vec::new());
        assert!(matches!(next, Next::Nothing));
    }

    #[test]
    fn a_small_sent_buffer_serves_the_next_writes_a_big_one_is_let_go() {
        let io = StreamIo::new(-1);
        send_and_complete(&io, 64, 1024);
        assert_eq!(io.write.borrow().pending.capacity(), 1024);
        let io = StreamIo::new(-1);
        send_and_complete(&io, 1 << 20, 1 << 20);
        assert_eq!(io.write.borrow().pending.capacity(), 0);
        assert_eq!(io.unsent(), 0);
    }

    #[test]
    fn bytes_written_during_a_send_follow_it_in_order() {
        let io = StreamIo::new(-1);
        io.write.borrow_mut().pending.extend_from_slice(b"second");
        io.write.borrow_mut().sending = 5;
        match io.on_send(5, b"first".to_vec(), 0, &mut Vec::new()) {
            Next::SendFollowing(next) => assert_eq!(next, b"second"),
            _ => panic!("the bytes written meanwhile were not sent next"),
        }
        assert_eq!(io.write.borrow().sending, 6);
        // A short send goes on from where it stopped.
        match io.on_send(2, b"second".to_vec(), 0, &mut Vec::new()) {
            Next::SendRest(buf, done) => assert_eq!(&buf[done..], b"cond"),
            _ => panic!("a short send was not continued"),
        }
    }

    #[test]
    fn a_send_error_is_returned_by_every_later_write_and_flush() {
        let io = StreamIo::new(-1);
        io.write.borrow_mut().sending = 3;
        io.write.borrow_mut().pending.extend_from_slice(b"later");
        let next = io.on_send(-libc::EPIPE, b"abc".to_vec(), 0, &mut Vec::new());
        assert!(matches!(next, Next::Nothing));
        assert!(io.unsent() == 0, "the rest is dropped with the error");
        let waker = std::task::Waker::noop();
        let cx = Context::from_waker(waker);
        for _ in 0..2 {
            match io.poll_flush(&cx) {
                Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
                _ => panic!("flush after a failed send must fail"),
            }
        }
    }
}
