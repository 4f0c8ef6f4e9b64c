//! `StreamIO`: the Rust half of corio's socket transport (the Python half,
//! `corio._transports.SocketTransport`, is an `asyncio.Transport` and
//! holds one). It owns the hot paths: a readiness watch on the socket,
//! reads into a reused buffer handed to `protocol.data_received` (or into
//! the protocol's own buffer, for a `BufferedProtocol`), writes that try
//! the socket first and buffer only the rest, flow control
//! (`pause_writing`/`resume_writing`), and the close sequence. Rare events
//! (a fatal error, the final socket close) call back into the Python half.
//!
//! The socket is level-watched and read once per loop iteration, as
//! asyncio's selector transports do; the watch's interest follows the
//! state (reading, something to write), and changes only when that does.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;

use corio::io::Interest;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyWeakrefReference};
use pyo3::{intern, PyTraverseError, PyVisit};

use crate::core_loop::CoreLoop;
use crate::gil::must_propagate;
use crate::owned::ThreadBound;
use crate::socket_ops::{os_error, recv, send, send_vectored, with_bytes, would_block};
use crate::stream_state::State;

/// asyncio's `max_size`: the most one read asks for.
const MAX_READ: usize = 256 * 1024;
/// asyncio's `LOG_THRESHOLD_FOR_CONNLOST_WRITES`.
const LOG_THRESHOLD_FOR_CONNLOST_WRITES: u32 = 5;

thread_local! {
    /// The read buffer every transport of this thread reuses.
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; MAX_READ]);
}

/// The Rust half of a socket transport.
#[pyclass(module = "corio._corio", frozen, weakref)]
pub struct StreamIO {
    state: ThreadBound<State>,
    /// Python objects, kept apart so the garbage collector can see them.
    refs: RefCell<Refs>,
}

// SAFETY: `refs` holds only Python references (themselves `Send`); it is
// touched with the GIL held, from the loop thread, and by the garbage
// collector (which holds the GIL, and takes them only through
// `__traverse__`, reading, or `__clear__`, which the loop never overlaps).
unsafe impl Sync for StreamIO {}

struct Refs {
    the_loop: Option<Py<PyAny>>,
    transport: Option<Py<PyAny>>,
    protocol: Option<Py<PyAny>>,
    /// Called once the socket is writable with nothing buffered (sendfile
    /// waits this way on the transport's own watch).
    on_writable: Option<Py<PyAny>>,
}

impl StreamIO {
    fn protocol(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.refs
            .borrow()
            .protocol
            .as_ref()
            .map(|p| p.clone_ref(py))
    }

    fn transport(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.refs
            .borrow()
            .transport
            .as_ref()
            .map(|t| t.clone_ref(py))
    }

    fn the_loop(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.refs
            .borrow()
            .the_loop
            .as_ref()
            .map(|l| l.clone_ref(py))
    }

    /// asyncio's `_fatal_error`, in the Python half (logging or the
    /// exception handler), which then calls `force_close`.
    fn fatal(&self, py: Python<'_>, err: PyErr, message: &str) -> PyResult<()> {
        if must_propagate(py, &err) {
            return Err(err);
        }
        if let Some(transport) = self.transport(py) {
            transport.call_method1(
                py,
                intern!(py, "_fatal_error"),
                (err.into_value(py), message),
            )?;
        }
        Ok(())
    }

    fn read_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        if st.conn_lost.get() > 0 || !st.is_reading() || st.read_eof.get() {
            return Ok(());
        }
        let Some(protocol) = this.protocol(py) else {
            return Ok(());
        };
        let protocol = protocol.bind(py);
        if st.buffered_protocol.get() {
            return Self::read_into_protocol(slf, st, protocol);
        }
        let read = READ_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            recv(st.fd, &mut buf[..]).map(|n| PyBytes::new(py, &buf[..n]))
        });
        match read {
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => this.fatal(py, os_error(e), "Fatal read error on socket transport"),
            Ok(data) if data.as_bytes().is_empty() => Self::eof_received(slf, protocol),
            Ok(data) => match protocol.call_method1(intern!(py, "data_received"), (data,)) {
                Ok(_) => Ok(()),
                Err(err) => this.fatal(
                    py,
                    err,
                    "Fatal error: protocol.data_received() call failed.",
                ),
            },
        }
    }

    fn read_into_protocol(
        slf: &Bound<'_, Self>,
        st: &State,
        protocol: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let buffer = protocol
            .call_method1(intern!(py, "get_buffer"), (-1,))
            .and_then(|buf| {
                let buffer = PyBuffer::<u8>::get(&buf)?;
                if buffer.len_bytes() == 0 {
                    return Err(PyRuntimeError::new_err(
                        "get_buffer() returned an empty buffer",
                    ));
                }
                if buffer.readonly() || !buffer.is_c_contiguous() {
                    return Err(PyTypeError::new_err(
                        "get_buffer() must return a writable contiguous buffer",
                    ));
                }
                Ok(buffer)
            });
        let buffer = match buffer {
            Ok(buffer) => buffer,
            Err(err) => {
                return this.fatal(py, err, "Fatal error: protocol.get_buffer() call failed.")
            }
        };
        // SAFETY: a writable C-contiguous buffer of `len_bytes` bytes, alive
        // while `buffer` is held; recv runs no Python code.
        let slice = unsafe {
            std::slice::from_raw_parts_mut(buffer.buf_ptr() as *mut u8, buffer.len_bytes())
        };
        let read = recv(st.fd, slice);
        drop(buffer);
        match read {
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => this.fatal(py, os_error(e), "Fatal read error on socket transport"),
            Ok(0) => Self::eof_received(slf, protocol),
            Ok(n) => match protocol.call_method1(intern!(py, "buffer_updated"), (n,)) {
                Ok(_) => Ok(()),
                Err(err) => this.fatal(
                    py,
                    err,
                    "Fatal error: protocol.buffer_updated() call failed.",
                ),
            },
        }
    }

    fn eof_received(slf: &Bound<'_, Self>, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let keep_open = match protocol
            .call_method0(intern!(py, "eof_received"))
            .and_then(|r| r.is_truthy())
        {
            Ok(keep_open) => keep_open,
            Err(err) => {
                return this.fatal(py, err, "Fatal error: protocol.eof_received() call failed.")
            }
        };
        if keep_open {
            let st = this.state.get()?;
            st.read_eof.set(true);
            st.update_interest()
        } else {
            Self::close(slf)
        }
    }

    fn write_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        if st.conn_lost.get() > 0 {
            return st.update_interest();
        }
        if st.pending() == 0 {
            st.wants_writable.set(false);
            st.update_interest()?;
            let callback = this.refs.borrow_mut().on_writable.take();
            if let Some(callback) = callback {
                callback.call0(py)?;
            }
            return Ok(());
        }
        let sent = {
            let buffer = st.buffer.borrow();
            send(st.fd, &buffer[st.sent.get()..])
        };
        match sent {
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => {
                st.clear_buffer();
                st.update_interest()?;
                let err = os_error(e);
                if let Some(transport) = this.transport(py) {
                    transport.call_method1(
                        py,
                        intern!(py, "_write_failed"),
                        (err.clone_ref(py).into_value(py),),
                    )?;
                }
                this.fatal(py, err, "Fatal write error on socket transport")
            }
            Ok(n) => {
                st.consume(n);
                Self::maybe_resume_protocol(slf)?; // may write more
                if st.pending() == 0 {
                    st.update_interest()?;
                    if let Some(transport) = this.transport(py) {
                        transport.call_method0(py, intern!(py, "_write_drained"))?;
                    }
                    if st.closing.get() {
                        return Self::_call_connection_lost(slf, py.None().into_bound(py));
                    } else if st.eof.get() {
                        // SAFETY: shutdown on our own descriptor.
                        unsafe { libc::shutdown(st.fd, libc::SHUT_WR) };
                    }
                }
                Ok(())
            }
        }
    }

    fn maybe_pause_protocol(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        if st.pending() <= st.high_water.get() || st.protocol_paused.get() {
            return Ok(());
        }
        st.protocol_paused.set(true);
        this.flow_callback(py, "pause_writing", "protocol.pause_writing() failed")
    }

    fn maybe_resume_protocol(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        if !st.protocol_paused.get() || st.pending() > st.low_water.get() {
            return Ok(());
        }
        st.protocol_paused.set(false);
        this.flow_callback(py, "resume_writing", "protocol.resume_writing() failed")
    }

    /// Calls `pause_writing`/`resume_writing`; an exception goes to the
    /// loop's exception handler (asyncio's `_FlowControlMixin`).
    fn flow_callback(&self, py: Python<'_>, method: &str, message: &str) -> PyResult<()> {
        let Some(protocol) = self.protocol(py) else {
            return Ok(());
        };
        let Err(err) = protocol.call_method0(py, method) else {
            return Ok(());
        };
        if must_propagate(py, &err) {
            return Err(err);
        }
        let (Some(the_loop), Some(transport)) = (self.the_loop(py), self.transport(py)) else {
            return Ok(());
        };
        let context = pyo3::types::PyDict::new(py);
        context.set_item("message", message)?;
        context.set_item("exception", err.into_value(py))?;
        context.set_item("transport", transport)?;
        context.set_item("protocol", protocol)?;
        the_loop.call_method1(py, intern!(py, "call_exception_handler"), (context,))?;
        Ok(())
    }

    /// Stops watching the socket: its tasks end, its registration goes.
    fn unwatch(&self) -> PyResult<()> {
        let st = self.state.get()?;
        let tasks = std::mem::take(&mut *st.tasks.borrow_mut());
        for task in &tasks {
            task.cancel();
        }
        drop(tasks);
        let watch = st.watch.borrow_mut().take();
        drop(watch);
        st.interest.set(Interest::NONE);
        let keepalive = st.keepalive.borrow_mut().take();
        drop(keepalive);
        Ok(())
    }

    fn schedule_connection_lost(slf: &Bound<'_, Self>, exc: Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        if let Some(the_loop) = slf.get().the_loop(py) {
            let callback = slf.getattr(intern!(py, "_call_connection_lost"))?;
            the_loop.call_method1(py, intern!(py, "call_soon"), (callback, exc))?;
        }
        Ok(())
    }
}

#[pymethods]
impl StreamIO {
    /// Watches `fd` (the transport's socket) on `loop` for `transport`,
    /// whose protocol is `protocol`.
    #[new]
    fn new(
        the_loop: &Bound<'_, PyAny>,
        fd: RawFd,
        transport: Py<PyAny>,
        protocol: &Bound<'_, PyAny>,
    ) -> PyResult<StreamIO> {
        let core = the_loop.cast::<CoreLoop>()?;
        let watch = core.get().watch_fd(fd)?;
        let this = StreamIO {
            state: ThreadBound::new(State {
                fd,
                watch: RefCell::new(Some(Rc::new(watch))),
                tasks: RefCell::new(Vec::new()),
                interest: Cell::new(Interest::NONE),
                buffered_protocol: Cell::new(false),
                protocol_connected: Cell::new(false),
                buffer: RefCell::new(Vec::new()),
                sent: Cell::new(0),
                conn_lost: Cell::new(0),
                closing: Cell::new(false),
                paused: Cell::new(false),
                reading_started: Cell::new(false),
                read_eof: Cell::new(false),
                eof: Cell::new(false),
                high_water: Cell::new(64 * 1024),
                low_water: Cell::new(16 * 1024),
                protocol_paused: Cell::new(false),
                wants_writable: Cell::new(false),
                me: RefCell::new(None),
                keepalive: RefCell::new(None),
            }),
            refs: RefCell::new(Refs {
                the_loop: Some(the_loop.clone().unbind()),
                transport: Some(transport),
                protocol: None,
                on_writable: None,
            }),
        };
        this.set_protocol(protocol)?;
        Ok(this)
    }

    /// Starts the tasks that run the transport when its socket is ready.
    /// Called once, by the Python half, right after construction.
    fn _spawn(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        let Some(the_loop) = this.the_loop(py) else {
            return Ok(());
        };
        let core = the_loop.bind(py).cast::<CoreLoop>()?.clone();
        let Some(watch) = st.watch.borrow().clone() else {
            return Ok(());
        };
        *st.me.borrow_mut() = Some(PyWeakrefReference::new(slf)?.unbind());
        let mut tasks = st.tasks.borrow_mut();
        for read in [true, false] {
            // Weak: an abandoned transport must stay collectable (its
            // `unclosed transport` warning, its socket closed).
            let io = PyWeakrefReference::new(slf)?.unbind();
            let watch = watch.clone();
            tasks.push(core.get().spawn(async move {
                loop {
                    if read {
                        watch.readable().await;
                    } else {
                        watch.writable().await;
                    }
                    let alive = Python::attach(|py| {
                        let Some(io) = io.bind(py).upgrade() else {
                            return false;
                        };
                        let Ok(io) = io.cast_into::<StreamIO>() else {
                            return false;
                        };
                        let result = if read {
                            StreamIO::read_ready(&io)
                        } else {
                            StreamIO::write_ready(&io)
                        };
                        if let Err(err) = result {
                            crate::gil::report_from_task(py, err);
                        }
                        true
                    });
                    if !alive {
                        return;
                    }
                }
            })?);
        }
        Ok(())
    }

    /// The loop is closing: it lets go of the transport (its watch and the
    /// reference that kept it alive), which the garbage collector then
    /// finalizes as asyncio's would (a `ResourceWarning`, the socket
    /// closed).
    fn _release(&self) -> PyResult<()> {
        self.unwatch()
    }

    /// asyncio adds the reader after `connection_made`: this is that step.
    fn start_reading(&self) -> PyResult<()> {
        let st = self.state.get()?;
        st.reading_started.set(true);
        st.update_interest()
    }

    fn set_protocol(&self, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = protocol.py();
        let buffered = py
            .import("asyncio")?
            .getattr("BufferedProtocol")
            .and_then(|cls| protocol.is_instance(&cls))?;
        let st = self.state.get()?;
        st.buffered_protocol.set(buffered);
        st.protocol_connected.set(true);
        let old = self
            .refs
            .borrow_mut()
            .protocol
            .replace(protocol.clone().unbind());
        drop(old);
        Ok(())
    }

    fn get_protocol(&self, py: Python<'_>) -> Py<PyAny> {
        self.protocol(py).unwrap_or_else(|| py.None())
    }

    fn is_closing(&self) -> PyResult<bool> {
        Ok(self.state.get()?.closing.get())
    }

    fn is_reading(&self) -> PyResult<bool> {
        Ok(self.state.get()?.is_reading())
    }

    fn pause_reading(&self) -> PyResult<()> {
        let st = self.state.get()?;
        if !st.is_reading() {
            return Ok(());
        }
        st.paused.set(true);
        st.update_interest()
    }

    fn resume_reading(&self) -> PyResult<()> {
        let st = self.state.get()?;
        if st.closing.get() || !st.paused.get() {
            return Ok(());
        }
        st.paused.set(false);
        st.update_interest()
    }

    /// asyncio's `Transport.write`: tries the socket first, buffers the
    /// rest, pauses the protocol above the high-water mark.
    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        let Some(result) = with_bytes(data, |bytes| -> Option<std::io::Result<usize>> {
            if st.eof.get() || bytes.is_empty() || st.conn_lost.get() > 0 {
                return None;
            }
            if st.pending() > 0 {
                st.buffer.borrow_mut().extend_from_slice(bytes);
                return Some(Ok(bytes.len()));
            }
            let sent = match send(st.fd, bytes) {
                Err(e) if would_block(&e) => 0,
                Err(e) => return Some(Err(e)),
                Ok(n) => n,
            };
            if sent < bytes.len() {
                st.buffer.borrow_mut().extend_from_slice(&bytes[sent..]);
            }
            Some(Ok(bytes.len()))
        })?
        else {
            if st.eof.get() {
                return Err(PyRuntimeError::new_err(
                    "Cannot call write() after write_eof()",
                ));
            }
            if st.conn_lost.get() > 0 && data.len()? > 0 {
                if st.conn_lost.get() >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
                    py.import("asyncio.log")?
                        .getattr("logger")?
                        .call_method1("warning", ("socket.send() raised exception.",))?;
                }
                st.conn_lost.set(st.conn_lost.get() + 1);
            }
            return Ok(());
        };
        if let Err(e) = result {
            return this.fatal(py, os_error(e), "Fatal write error on socket transport");
        }
        if st.pending() > 0 {
            st.update_interest()?;
            Self::maybe_pause_protocol(slf)?;
        }
        Ok(())
    }

    /// asyncio's `writelines`: the buffers go out in one `sendmsg` when
    /// nothing is buffered (no join), the rest is buffered.
    fn writelines(slf: &Bound<'_, Self>, list_of_data: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let items: Vec<Bound<'_, PyAny>> = list_of_data.try_iter()?.collect::<PyResult<_>>()?;
        let st = slf.get().state.get()?;
        if st.eof.get() || st.conn_lost.get() > 0 || st.pending() > 0 || items.len() < 2 {
            // The general path: one write per buffer (each is appended to
            // what is buffered, or tried, or refused as `write` does).
            for item in &items {
                Self::write(slf, item)?;
            }
            return Ok(());
        }
        // Every buffer held (bytes need no holding) while the slices are used.
        let mut held: Vec<Option<PyBuffer<u8>>> = Vec::with_capacity(items.len());
        for item in &items {
            if item.cast::<PyBytes>().is_ok() {
                held.push(None);
                continue;
            }
            if item.cast::<PyByteArray>().is_err() && item.cast::<PyMemoryView>().is_err() {
                return Err(PyTypeError::new_err(format!(
                    "data argument must be a bytes-like object, not {:?}",
                    item.get_type().name()?.to_string()
                )));
            }
            let buffer = PyBuffer::<u8>::get(item)?;
            if !buffer.is_c_contiguous() {
                for item in &items {
                    Self::write(slf, item)?;
                }
                return Ok(());
            }
            held.push(Some(buffer));
        }
        let mut all: Vec<&[u8]> = items
            .iter()
            .zip(&held)
            .map(|(item, buffer)| match buffer {
                None => item
                    .cast::<PyBytes>()
                    .map(|b| b.as_bytes())
                    .unwrap_or_default(),
                // SAFETY: a C-contiguous buffer of `len_bytes` bytes, alive
                // (and unable to change size) while `held` lives; sendmsg
                // runs no Python code.
                Some(buffer) => unsafe {
                    std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes())
                },
            })
            .collect();
        all.retain(|p| !p.is_empty());
        let total: usize = all.iter().map(|p| p.len()).sum();
        if total == 0 {
            return Ok(());
        }
        let sent = match send_vectored(st.fd, &all) {
            Err(e) if would_block(&e) => 0,
            Err(e) => {
                return slf
                    .get()
                    .fatal(py, os_error(e), "Fatal write error on socket transport")
            }
            Ok(n) => n,
        };
        if sent < total {
            let mut skip = sent;
            let mut buffer = st.buffer.borrow_mut();
            for part in &all {
                if skip >= part.len() {
                    skip -= part.len();
                    continue;
                }
                buffer.extend_from_slice(&part[skip..]);
                skip = 0;
            }
            drop(buffer);
            st.update_interest()?;
            Self::maybe_pause_protocol(slf)?;
        }
        drop(held);
        Ok(())
    }

    fn write_eof(&self) -> PyResult<()> {
        let st = self.state.get()?;
        if st.closing.get() || st.eof.get() {
            return Ok(());
        }
        st.eof.set(true);
        if st.pending() == 0 {
            // SAFETY: shutdown on our own descriptor.
            unsafe { libc::shutdown(st.fd, libc::SHUT_WR) };
        }
        Ok(())
    }

    /// Calls `callback()` once the socket is writable and nothing is
    /// buffered (replacing a callback that still waits).
    fn _wait_writable(&self, callback: Py<PyAny>) -> PyResult<()> {
        let old = self.refs.borrow_mut().on_writable.replace(callback);
        drop(old);
        let st = self.state.get()?;
        st.wants_writable.set(true);
        st.update_interest()
    }

    fn get_write_buffer_size(&self) -> PyResult<usize> {
        Ok(self.state.get()?.pending())
    }

    /// `(low, high)`, as asyncio's `get_write_buffer_limits`.
    fn get_write_buffer_limits(&self) -> PyResult<(usize, usize)> {
        let st = self.state.get()?;
        Ok((st.low_water.get(), st.high_water.get()))
    }

    /// Sets validated limits (the Python half computes the defaults).
    fn _set_limits(slf: &Bound<'_, Self>, high: usize, low: usize) -> PyResult<()> {
        let st = slf.get().state.get()?;
        st.high_water.set(high);
        st.low_water.set(low);
        Self::maybe_pause_protocol(slf)
    }

    #[getter]
    fn protocol_paused(&self) -> PyResult<bool> {
        Ok(self.state.get()?.protocol_paused.get())
    }

    /// asyncio's `close`: stop reading; once the buffer is written, the
    /// protocol's `connection_lost(None)`.
    fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
        let st = slf.get().state.get()?;
        if st.closing.get() {
            return Ok(());
        }
        st.closing.set(true);
        if st.pending() == 0 {
            st.conn_lost.set(st.conn_lost.get() + 1);
            st.update_interest()?;
            return Self::schedule_connection_lost(slf, slf.py().None().into_bound(slf.py()));
        }
        st.update_interest()
    }

    /// asyncio's `_force_close`: drop what is buffered and close now.
    fn force_close(slf: &Bound<'_, Self>, exc: Bound<'_, PyAny>) -> PyResult<()> {
        let st = slf.get().state.get()?;
        if st.conn_lost.get() > 0 {
            return Ok(());
        }
        st.clear_buffer();
        st.closing.set(true);
        st.conn_lost.set(st.conn_lost.get() + 1);
        st.update_interest()?;
        Self::schedule_connection_lost(slf, exc)
    }

    /// The last step: the protocol's `connection_lost(exc)`, then the
    /// Python half closes the socket (after the watch is gone).
    fn _call_connection_lost(slf: &Bound<'_, Self>, exc: Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let connected = this.state.get()?.protocol_connected.get();
        this.unwatch()?;
        let result = match this.protocol(py) {
            Some(protocol) if connected => protocol
                .call_method1(py, intern!(py, "connection_lost"), (exc,))
                .map(drop),
            _ => Ok(()),
        };
        let transport = this.transport(py);
        let old = std::mem::replace(
            &mut *this.refs.borrow_mut(),
            Refs {
                the_loop: None,
                transport: None,
                protocol: None,
                on_writable: None,
            },
        );
        drop(old);
        if let Some(transport) = transport {
            transport.call_method0(py, intern!(py, "_finish_close"))?;
        }
        result
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(refs) = self.refs.try_borrow() {
            visit.call(&refs.the_loop)?;
            visit.call(&refs.transport)?;
            visit.call(&refs.protocol)?;
            visit.call(&refs.on_writable)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        if let Ok(mut refs) = self.refs.try_borrow_mut() {
            refs.the_loop = None;
            refs.transport = None;
            refs.protocol = None;
            refs.on_writable = None;
        }
    }
}
