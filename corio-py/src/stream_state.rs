//! The state of one stream transport (`StreamIO`: a stream socket or a
//! pipe): its watch, its write buffer, and asyncio's transport flags
//! (closing, paused, EOF written or received, protocol paused).

use std::cell::{Cell, RefCell};
use std::io::IoSlice;

use corio::io::Interest;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::flow::FlowControl;
use crate::socket_ops::{read, recv, send, send_vectored, with_read_buf, write, MAX_READ};
use crate::watched::Watched;

/// What the descriptor is: asyncio's socket transport, or one of its Unix
/// pipe transports (which read and write with `read`/`write`, and close
/// differently: see `StreamIO`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Socket,
    ReadPipe,
    WritePipe,
}

/// One stream transport's state (the loop thread only touches it).
pub(crate) struct State {
    pub(crate) kind: Kind,
    pub(crate) watched: Watched,
    pub(crate) buffered_protocol: Cell<bool>,
    pub(crate) protocol_connected: Cell<bool>,
    /// Written data the descriptor did not take yet (from `sent` on).
    pub(crate) buffer: RefCell<Vec<u8>>,
    pub(crate) sent: Cell<usize>,
    pub(crate) conn_lost: Cell<u32>,
    /// Writes a closing pipe refused (asyncio's warning counts them).
    pub(crate) dropped_writes: Cell<u32>,
    pub(crate) closing: Cell<bool>,
    pub(crate) paused: Cell<bool>,
    /// `start_reading` ran (asyncio adds the reader after `connection_made`).
    pub(crate) reading_started: Cell<bool>,
    /// EOF was received and the protocol kept the transport open.
    pub(crate) read_eof: Cell<bool>,
    pub(crate) eof: Cell<bool>,
    pub(crate) flow: FlowControl,
    /// An `on_writable` callback waits.
    pub(crate) wants_writable: Cell<bool>,
}

impl State {
    pub(crate) fn new(kind: Kind, watched: Watched) -> State {
        State {
            kind,
            watched,
            buffered_protocol: Cell::new(false),
            protocol_connected: Cell::new(false),
            buffer: RefCell::new(Vec::new()),
            sent: Cell::new(0),
            conn_lost: Cell::new(0),
            dropped_writes: Cell::new(0),
            closing: Cell::new(false),
            paused: Cell::new(false),
            reading_started: Cell::new(false),
            read_eof: Cell::new(false),
            eof: Cell::new(false),
            flow: FlowControl::new(),
            wants_writable: Cell::new(false),
        }
    }

    /// One read: received bytes from the ring in completion mode, else
    /// `recv` on a socket, `read` on a pipe.
    pub(crate) fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(ring) = self.watched.ring() {
            return ring.try_read(buf);
        }
        match self.kind {
            Kind::Socket => recv(self.watched.fd, buf),
            _ => read(self.watched.fd, buf),
        }
    }

    /// One read as `bytes` (empty: the peer ended the stream). In
    /// completion mode straight from the ring's receive buffer; else
    /// through the thread's read buffer (asyncio's `max_size`).
    pub(crate) fn read_bytes<'py>(&self, py: Python<'py>) -> std::io::Result<Bound<'py, PyBytes>> {
        if let Some(ring) = self.watched.ring() {
            return ring.try_read_with(MAX_READ, |bytes| PyBytes::new(py, bytes));
        }
        with_read_buf(|buf| self.read(buf).map(|n| PyBytes::new(py, &buf[..n])))
    }

    /// One write: into the ring's outgoing buffer in completion mode, else
    /// `send` on a socket, `write` on a pipe.
    pub(crate) fn write(&self, data: &[u8]) -> std::io::Result<usize> {
        if let Some(ring) = self.watched.ring() {
            return ring.try_write(data);
        }
        match self.kind {
            Kind::Socket => send(self.watched.fd, data),
            _ => write(self.watched.fd, data),
        }
    }

    /// One write of several buffers, in order (a socket's `sendmsg`).
    pub(crate) fn write_vectored(&self, parts: &[&[u8]]) -> std::io::Result<usize> {
        if let Some(ring) = self.watched.ring() {
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            return ring.try_write_vectored(&slices);
        }
        send_vectored(self.watched.fd, parts)
    }

    /// Shuts the write side down (in completion mode, once the ring sent
    /// what it holds).
    pub(crate) fn shutdown_write(&self) {
        match self.watched.ring() {
            Some(ring) => {
                let _ = ring.shutdown(std::net::Shutdown::Write);
            }
            // SAFETY: shutdown on our own descriptor.
            None => unsafe {
                libc::shutdown(self.watched.fd, libc::SHUT_WR);
            },
        }
    }

    /// Drops what is written and not sent (an abort): the buffer, and in
    /// completion mode what the ring holds.
    pub(crate) fn discard_unsent(&self) {
        self.clear_buffer();
        if let Some(ring) = self.watched.ring() {
            ring.discard_unsent();
        }
    }

    /// The word asyncio's messages use for this transport.
    pub(crate) fn noun(&self) -> &'static str {
        match self.kind {
            Kind::Socket => "socket",
            _ => "pipe",
        }
    }

    /// Bytes in the transport's buffer (what `get_write_buffer_size`
    /// reports and flow control counts). In completion mode the ring's
    /// outgoing buffer is not counted, as a socket's send buffer is not:
    /// the kernel has those bytes in a queued request.
    pub(crate) fn pending(&self) -> usize {
        self.buffer.borrow().len() - self.sent.get()
    }

    /// Bytes written and not yet handed to the socket: `pending` plus, in
    /// completion mode, the ring's (what sendfile must wait for).
    pub(crate) fn unsent(&self) -> usize {
        self.pending() + self.watched.ring().map_or(0, |ring| ring.unsent())
    }

    pub(crate) fn is_reading(&self) -> bool {
        !self.closing.get() && !self.paused.get()
    }

    /// Makes the watch's interest match the state (one `epoll_ctl` when it
    /// changes, none otherwise).
    pub(crate) fn update_interest(&self) -> PyResult<()> {
        let mut want = Interest::NONE;
        if self.reading_started.get()
            && self.is_reading()
            && !self.read_eof.get()
            && self.conn_lost.get() == 0
        {
            want = want.with(Interest::READABLE);
        }
        if (self.pending() > 0 || self.wants_writable.get()) && self.conn_lost.get() == 0 {
            want = want.with(Interest::WRITABLE);
        }
        self.watched.set_interest(want)
    }

    pub(crate) fn clear_buffer(&self) {
        self.buffer.borrow_mut().clear();
        self.sent.set(0);
    }

    /// Drops the sent prefix once it is most of the buffer.
    pub(crate) fn consume(&self, n: usize) {
        let sent = self.sent.get() + n;
        let mut buffer = self.buffer.borrow_mut();
        if sent == buffer.len() {
            buffer.clear();
            self.sent.set(0);
        } else if sent > buffer.len() / 2 {
            buffer.drain(..sent);
            self.sent.set(0);
        } else {
            self.sent.set(sent);
        }
    }
}
