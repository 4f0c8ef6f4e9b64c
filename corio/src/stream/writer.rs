//! `StreamWriter`: buffered writes flushed in the background, with
//! asyncio's water marks and `drain`.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_io::AsyncWrite;

use super::PeerAddr;
use crate::sync::wait_list::{wake_all, WaitKey, WaitList};

/// asyncio's default high-water mark: 64 KiB (low: a quarter of it).
pub const DEFAULT_HIGH_WATER: usize = 64 * 1024;

struct State {
    io: Option<Box<dyn AsyncWrite + Unpin>>,
    /// `buf[pos..]` waits to be written.
    buf: Vec<u8>,
    pos: usize,
    high: usize,
    low: usize,
    /// The first write error: every later call reports it.
    error: Option<(io::ErrorKind, String)>,
    flusher_running: bool,
    eof_requested: bool,
    eof_sent: bool,
    /// Bytes were written since the last successful `poll_flush` (a TLS
    /// stream holds records until flushed; a socket flushes at once).
    unflushed: bool,
    close_requested: bool,
    /// The writer was dropped: flush, send EOF, release the stream.
    dropped: bool,
    closed: bool,
    /// How long a dropped writer may go on flushing.
    linger: Duration,
    /// When a dropped writer's flushing gives up (set on drop).
    linger_deadline: Option<Instant>,
    /// The background flusher, woken when the writer is dropped (to start
    /// its linger timer) or aborted.
    flusher_waker: Option<Waker>,
    /// Tasks in `drain` or `wait_closed`, woken when the buffer falls below
    /// the low mark, on error, or on close.
    waiters: WaitList,
}

impl State {
    fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn error(&self) -> Option<io::Error> {
        self.error
            .as_ref()
            .map(|(kind, msg)| io::Error::new(*kind, msg.clone()))
    }

    fn fail(&mut self, e: io::Error) {
        if self.error.is_none() {
            self.error = Some((e.kind(), e.to_string()));
        }
        // Nothing more can be written: drop what is left and close.
        self.buf.clear();
        self.pos = 0;
        self.io = None;
        self.closed = true;
    }
}

struct Inner {
    state: RefCell<State>,
    /// Shuts the whole socket down on close (both directions).
    closer: Option<Box<dyn Fn()>>,
    peer: Option<PeerAddr>,
    local: Option<PeerAddr>,
}

/// Writing to a stream (asyncio's `StreamWriter`).
///
/// [`write`](StreamWriter::write) never waits: bytes the socket does not take
/// at once are buffered and flushed by a background task. Call
/// [`drain`](StreamWriter::drain) after writing to wait while the buffer is
/// above the high-water mark (64 KiB by default) until it falls to the low
/// mark — that is backpressure, which keeps memory bounded.
///
/// Dropping the writer flushes what is buffered in the background, then
/// sends EOF (the write direction closes; the [`StreamReader`](super::StreamReader)
/// keeps reading): bytes written are never silently dropped. [`close`](StreamWriter::close)
/// shuts both directions, as asyncio's `close` does. Errors (a reset peer)
/// are reported by the next `write`, `drain` or `wait_closed`.
pub struct StreamWriter {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.state.borrow();
        f.debug_struct("StreamWriter")
            .field("buffered", &state.buffered())
            .field("closed", &state.closed)
            .field("peer", &self.inner.peer)
            .finish()
    }
}

impl StreamWriter {
    /// A writer over `io`.
    pub fn new(io: impl AsyncWrite + Unpin + 'static) -> StreamWriter {
        StreamWriter::with_parts(Box::new(io), None, None, None)
    }

    pub(crate) fn with_parts(
        io: Box<dyn AsyncWrite + Unpin>,
        closer: Option<Box<dyn Fn()>>,
        peer: Option<PeerAddr>,
        local: Option<PeerAddr>,
    ) -> StreamWriter {
        StreamWriter {
            inner: Rc::new(Inner {
                state: RefCell::new(State {
                    io: Some(io),
                    buf: Vec::new(),
                    pos: 0,
                    high: DEFAULT_HIGH_WATER,
                    low: DEFAULT_HIGH_WATER / 4,
                    error: None,
                    flusher_running: false,
                    eof_requested: false,
                    eof_sent: false,
                    unflushed: false,
                    close_requested: false,
                    dropped: false,
                    closed: false,
                    linger: super::DEFAULT_LINGER,
                    linger_deadline: None,
                    flusher_waker: None,
                    waiters: WaitList::default(),
                }),
                closer,
                peer,
                local,
            }),
        }
    }

    /// Queues `data` for sending; never waits. Fails if the writer was
    /// closed, `write_eof` was called, or an earlier write failed.
    pub fn write(&self, data: &[u8]) -> io::Result<()> {
        let mut state = self.inner.state.borrow_mut();
        if let Some(e) = state.error() {
            return Err(e);
        }
        if state.close_requested || state.eof_requested {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after close or write_eof",
            ));
        }
        let mut data = data;
        if state.buffered() == 0 && !state.flusher_running {
            // Fast path: hand it to the socket right away.
            let state = &mut *state; // plain &mut State: disjoint field borrows
            let io = state.io.as_mut().expect("open writer has its stream");
            let mut cx = Context::from_waker(Waker::noop());
            let mut failed = None;
            while !data.is_empty() {
                match Pin::new(&mut **io).poll_write(&mut cx, data) {
                    Poll::Ready(Ok(0)) => break,
                    Poll::Ready(Ok(n)) => data = &data[n..],
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Poll::Ready(Err(e)) => {
                        failed = Some(e);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if failed.is_none() && data.is_empty() {
                match Pin::new(&mut **io).poll_flush(&mut cx) {
                    Poll::Ready(Ok(())) => return Ok(()),
                    Poll::Ready(Err(e)) => failed = Some(e),
                    Poll::Pending => {}
                }
            }
            if let Some(e) = failed {
                state.fail(e);
                return Err(state.error().expect("just failed"));
            }
            state.unflushed = true;
            state.buf.clear();
            state.pos = 0;
        }
        state.buf.extend_from_slice(data);
        drop(state);
        self.start_flusher();
        Ok(())
    }

    /// Queues several buffers.
    pub fn write_lines<I, B>(&self, lines: I) -> io::Result<()>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        for line in lines {
            self.write(line.as_ref())?;
        }
        Ok(())
    }

    fn start_flusher(&self) {
        let mut state = self.inner.state.borrow_mut();
        // Outside a loop (the loop is closing) nothing can flush any more.
        if state.flusher_running || state.io.is_none() || !crate::in_loop() {
            return;
        }
        state.flusher_running = true;
        drop(state);
        let inner = self.inner.clone();
        crate::spawn(async move {
            let mut linger: Option<Pin<Box<crate::time::Sleep>>> = None;
            poll_fn(|cx| {
                if inner.poll_flush(cx).is_ready() {
                    return Poll::Ready(());
                }
                let deadline = inner.state.borrow().linger_deadline;
                match deadline {
                    Some(deadline) => {
                        let timer =
                            linger.get_or_insert_with(|| Box::pin(crate::sleep_until(deadline)));
                        if timer.as_mut().poll(cx).is_ready() {
                            inner.abort(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "the writer was dropped and the peer did not read what was \
                                 left within the linger time: connection aborted",
                            ));
                            return Poll::Ready(());
                        }
                    }
                    None => inner.state.borrow_mut().flusher_waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            })
            .await;
            inner.state.borrow_mut().flusher_running = false;
        })
        .detach();
    }

    /// How long this writer, once dropped, may go on flushing to a peer
    /// that does not read before the connection is aborted (default
    /// [`DEFAULT_LINGER`](super::DEFAULT_LINGER), 30 s; a server sets its
    /// [`ServerOptions::linger`](super::ServerOptions::linger)).
    pub fn set_linger(&self, linger: Duration) {
        self.inner.state.borrow_mut().linger = linger;
    }

    /// Closes the connection at once, dropping what is buffered (asyncio's
    /// `transport.abort()`).
    pub fn abort(&self) {
        self.inner.abort(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the connection was aborted",
        ));
    }

    /// A handle that sees the writer after it is dropped (the server keeps
    /// one per connection).
    pub(crate) fn watch(&self) -> WriterWatch {
        WriterWatch(Rc::downgrade(&self.inner))
    }

    /// Waits while the buffer is above the high-water mark, until it falls to
    /// the low mark (asyncio's `drain`). Reports a write error, if any.
    pub async fn drain(&self) -> io::Result<()> {
        self.inner
            .wait_until(|state| match state.error() {
                Some(e) => Some(Err(e)),
                None if state.closed || state.buffered() <= state.high => Some(Ok(())),
                None => None,
            })
            .await
    }

    /// Sets the water marks: `drain` waits above `high`, until `low`
    /// (default `high / 4`).
    pub fn set_write_buffer_limits(&self, high: usize, low: Option<usize>) {
        let mut state = self.inner.state.borrow_mut();
        state.high = high;
        state.low = low.unwrap_or(high / 4).min(high);
    }

    /// Bytes buffered, not yet taken by the socket (asyncio's
    /// `transport.get_write_buffer_size()`).
    pub fn buffer_size(&self) -> usize {
        self.inner.state.borrow().buffered()
    }

    /// Closes the write direction once the buffer is flushed (the peer reads
    /// EOF); reading goes on.
    pub fn write_eof(&self) -> io::Result<()> {
        let mut state = self.inner.state.borrow_mut();
        if let Some(e) = state.error() {
            return Err(e);
        }
        state.eof_requested = true;
        drop(state);
        self.flush_or_finish();
        Ok(())
    }

    /// Whether `write_eof` is supported (always).
    pub fn can_write_eof(&self) -> bool {
        true
    }

    /// Closes the stream once the buffer is flushed. Use
    /// [`wait_closed`](StreamWriter::wait_closed) to wait for that.
    pub fn close(&self) {
        self.inner.state.borrow_mut().close_requested = true;
        self.flush_or_finish();
    }

    fn flush_or_finish(&self) {
        let idle = {
            let state = self.inner.state.borrow();
            !state.flusher_running
        };
        if idle {
            // Nothing buffered (or nobody flushing): finish now if we can.
            let mut cx = Context::from_waker(Waker::noop());
            if self.inner.poll_flush(&mut cx).is_pending() {
                self.start_flusher();
            }
        }
    }

    /// Whether `close` was called (or the stream failed).
    pub fn is_closing(&self) -> bool {
        let state = self.inner.state.borrow();
        state.close_requested || state.closed
    }

    /// Waits until `close` finished: the buffer flushed and the stream shut.
    /// Returns the write error, if one happened.
    pub async fn wait_closed(&self) -> io::Result<()> {
        self.inner
            .wait_until(|state| {
                state.closed.then(|| match state.error() {
                    Some(e) => Err(e),
                    None => Ok(()),
                })
            })
            .await
    }

    /// The peer's address (asyncio's `get_extra_info("peername")`).
    pub fn peer_addr(&self) -> Option<&PeerAddr> {
        self.inner.peer.as_ref()
    }

    /// This side's address (`get_extra_info("sockname")`).
    pub fn local_addr(&self) -> Option<&PeerAddr> {
        self.inner.local.as_ref()
    }
}

impl Inner {
    /// Parks in the writer's wait list until `check` gives a value; woken
    /// when the buffer falls to the low mark, on error and on close.
    async fn wait_until<T>(&self, mut check: impl FnMut(&State) -> Option<T>) -> T {
        /// Leaves the wait list however the wait ends (also when cancelled).
        struct Parked<'a> {
            inner: &'a Inner,
            key: Option<WaitKey>,
        }
        impl Drop for Parked<'_> {
            fn drop(&mut self) {
                if let Some(key) = self.key.take() {
                    self.inner.state.borrow_mut().waiters.remove(key);
                }
            }
        }
        let mut parked = Parked {
            inner: self,
            key: None,
        };
        poll_fn(|cx| {
            let mut state = parked.inner.state.borrow_mut();
            if let Some(key) = parked.key.take() {
                state.waiters.remove(key);
            }
            match check(&state) {
                Some(value) => Poll::Ready(value),
                None => {
                    parked.key = Some(state.waiters.push_back(cx.waker()));
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Fails the writer with `error`, drops what is buffered, shuts the
    /// socket and wakes everybody waiting (asyncio's `abort`).
    pub(crate) fn abort(&self, error: io::Error) {
        let (wakers, flusher, io) = {
            let mut state = self.state.borrow_mut();
            if state.closed {
                return;
            }
            let io = state.io.take();
            state.fail(error);
            (state.waiters.wake_all(()), state.flusher_waker.take(), io)
        };
        if let Some(closer) = &self.closer {
            closer();
        }
        drop(io);
        wake_all(wakers);
        if let Some(waker) = flusher {
            waker.wake();
        }
    }

    /// Writes the buffer out; then sends EOF or closes if asked. Ready when
    /// there is nothing left to do (or it failed).
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut guard = self.state.borrow_mut();
        let state = &mut *guard; // a plain &mut State: disjoint field borrows
        let mut wakers = Vec::new();
        let result = loop {
            let Some(io) = state.io.as_mut() else {
                break Poll::Ready(());
            };
            if state.pos < state.buf.len() {
                match Pin::new(&mut **io).poll_write(cx, &state.buf[state.pos..]) {
                    Poll::Ready(Ok(0)) => {
                        state.fail(io::ErrorKind::WriteZero.into());
                        break Poll::Ready(());
                    }
                    Poll::Ready(Ok(n)) => {
                        state.unflushed = true;
                        let before = state.buffered();
                        state.pos += n;
                        if before > state.low && state.buffered() <= state.low {
                            wakers.extend(state.waiters.wake_all(()));
                        }
                        if state.pos == state.buf.len() {
                            state.buf.clear();
                            state.pos = 0;
                        } else if state.pos > 1 << 20 && state.pos > state.buf.len() / 2 {
                            state.buf.drain(..state.pos);
                            state.pos = 0;
                        }
                    }
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Poll::Ready(Err(e)) => {
                        state.fail(e);
                        break Poll::Ready(());
                    }
                    Poll::Pending => break Poll::Pending,
                }
                continue;
            }
            if state.unflushed {
                match Pin::new(&mut **io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => state.unflushed = false,
                    Poll::Ready(Err(e)) => {
                        state.fail(e);
                        break Poll::Ready(());
                    }
                    Poll::Pending => break Poll::Pending,
                }
            }
            if state.close_requested || state.dropped {
                let _ = Pin::new(&mut **io).poll_close(cx);
                state.io = None;
                state.closed = true;
                if state.close_requested {
                    if let Some(closer) = &self.closer {
                        closer();
                    }
                }
                break Poll::Ready(());
            }
            if state.eof_requested && !state.eof_sent {
                state.eof_sent = true;
                if let Poll::Ready(Err(e)) = Pin::new(&mut **io).poll_close(cx) {
                    state.fail(e);
                }
            }
            break Poll::Ready(());
        };
        if state.closed || state.error.is_some() {
            wakers.extend(state.waiters.wake_all(()));
        }
        drop(guard);
        wake_all(wakers);
        result
    }
}

/// Sees a connection's writer after its handler let go of it: a server
/// waits for it to finish flushing (counting the connection meanwhile) and
/// aborts it when the connection is aborted.
pub(crate) struct WriterWatch(std::rc::Weak<Inner>);

impl WriterWatch {
    /// Waits until the writer has flushed and shut (or failed, or gone).
    pub(crate) async fn finished(&self) {
        if let Some(inner) = self.0.upgrade() {
            inner.wait_until(|state| state.closed.then_some(())).await;
        }
    }

    /// Aborts the writer if it is still at work.
    pub(crate) fn abort(&self) {
        if let Some(inner) = self.0.upgrade() {
            inner.abort(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server aborted the connection",
            ));
        }
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        // Flush what is buffered (in the background if need be), then send
        // EOF. Unlike `close`, the read direction stays open for the reader.
        // Either way, a peer that never reads holds the connection for the
        // linger time at most.
        let flusher = {
            let mut state = self.inner.state.borrow_mut();
            if state.closed {
                return;
            }
            state.linger_deadline = crate::in_loop().then(|| crate::time::now() + state.linger);
            if !state.close_requested {
                state.dropped = true;
            }
            state.flusher_waker.take()
        };
        if let Some(waker) = flusher {
            waker.wake(); // starts its linger timer
        }
        self.flush_or_finish();
    }
}
