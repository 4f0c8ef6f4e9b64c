//! The state of one socket transport (`StreamIO`): its watch and the
//! interest epoll has, its write buffer, and asyncio's transport flags
//! (closing, paused, EOF written or received, protocol paused).

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;

use corio::io::{Interest, Watch};
use corio::Task;
use pyo3::prelude::*;
use pyo3::types::PyWeakrefReference;

/// One socket transport's state (the loop thread only touches it).
pub(crate) struct State {
    pub(crate) fd: RawFd,
    pub(crate) watch: RefCell<Option<Rc<Watch>>>,
    pub(crate) tasks: RefCell<Vec<Task<()>>>,
    /// The interest the watch has now.
    pub(crate) interest: Cell<Interest>,
    pub(crate) buffered_protocol: Cell<bool>,
    pub(crate) protocol_connected: Cell<bool>,
    /// Written data the socket did not take yet (from `sent` on).
    pub(crate) buffer: RefCell<Vec<u8>>,
    pub(crate) sent: Cell<usize>,
    pub(crate) conn_lost: Cell<u32>,
    pub(crate) closing: Cell<bool>,
    pub(crate) paused: Cell<bool>,
    /// `start_reading` ran (asyncio adds the reader after `connection_made`).
    pub(crate) reading_started: Cell<bool>,
    /// EOF was received and the protocol kept the transport open.
    pub(crate) read_eof: Cell<bool>,
    pub(crate) eof: Cell<bool>,
    pub(crate) high_water: Cell<usize>,
    pub(crate) low_water: Cell<usize>,
    pub(crate) protocol_paused: Cell<bool>,
    /// An `on_writable` callback waits.
    pub(crate) wants_writable: Cell<bool>,
    /// This object, weakly (set by `_spawn`).
    pub(crate) me: RefCell<Option<Py<PyWeakrefReference>>>,
    /// This object, strongly, while the socket is watched for anything:
    /// the loop keeps a reading or writing transport alive, as asyncio's
    /// selector does through its handles (a stream handler's task waits
    /// on a future only the transport's protocol holds). Not visible to
    /// the garbage collector, on purpose: it is the loop's root.
    pub(crate) keepalive: RefCell<Option<Py<PyAny>>>,
}

impl Drop for State {
    /// A transport collected without being closed: its tasks end too.
    fn drop(&mut self) {
        for task in self.tasks.get_mut().drain(..) {
            task.cancel();
        }
    }
}

impl State {
    pub(crate) fn pending(&self) -> usize {
        self.buffer.borrow().len() - self.sent.get()
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
        if want == self.interest.get() {
            return Ok(());
        }
        if let Some(watch) = self.watch.borrow().as_ref() {
            watch.set_interest(want).map_err(PyErr::from)?;
        }
        self.interest.set(want);
        let old = if want.is_empty() {
            self.keepalive.borrow_mut().take()
        } else {
            if self.keepalive.borrow().is_none() {
                let me = Python::attach(|py| {
                    self.me
                        .borrow()
                        .as_ref()
                        .and_then(|me| me.bind(py).upgrade())
                        .map(Bound::unbind)
                });
                *self.keepalive.borrow_mut() = me;
            }
            None
        };
        drop(old);
        Ok(())
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
