//! `StreamIO`: the Rust half of corio's stream transports: the socket
//! transport (`corio._transports.SocketTransport`) and the Unix pipe
//! transports (`corio._pipe_transports`), each an asyncio transport that
//! holds one. It owns the hot paths: a readiness watch on the descriptor,
//! reads into a reused buffer handed to `protocol.data_received` (or into
//! the protocol's own buffer, for a `BufferedProtocol` on a socket),
//! writes that try the descriptor first and buffer only the rest, flow
//! control (`pause_writing`/`resume_writing`), and the close sequence.
//! Rare events (a fatal error, the final close) call back into the Python
//! half.
//!
//! A pipe differs from a socket as asyncio's pipe transports do: `read` and
//! `write` instead of `recv` and `send`; a read pipe closes at EOF; a write
//! pipe closes when its reader goes away, and its `write_eof` is `close`.
//!
//! The descriptor is level-watched and read once per loop iteration, as
//! asyncio's selector transports do; the watch's interest follows the
//! state (reading, something to write), and changes only when that does.

use std::os::fd::RawFd;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::{intern, PyTraverseError, PyVisit};

use crate::core_loop::CoreLoop;
use crate::links::{LinkCell, Links};
use crate::owned::ThreadBound;
use crate::socket_ops::{is_bytes_like, not_bytes_like, os_error, with_bytes, would_block};
use crate::stream_state::{Kind, State};
use crate::watched::{spawn_ready_tasks, OnReady, Watched};

/// asyncio's `LOG_THRESHOLD_FOR_CONNLOST_WRITES`.
pub(crate) const LOG_THRESHOLD_FOR_CONNLOST_WRITES: u32 = 5;

/// The Rust half of a stream transport: a stream socket's, or a pipe's.
#[pyclass(module = "corio._corio", frozen, weakref)]
pub struct StreamIO {
    state: ThreadBound<State>,
    links: LinkCell,
}

impl OnReady for StreamIO {
    fn watched(&self) -> PyResult<&Watched> {
        Ok(&self.state.get()?.watched)
    }

    fn read_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::read_ready(slf)
    }

    fn write_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::write_ready(slf)
    }
}

impl StreamIO {
    fn read_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        if st.kind == Kind::WritePipe {
            return Self::reader_gone(slf, st);
        }
        if st.conn_lost.get() > 0 || !st.is_reading() || st.read_eof.get() {
            return Ok(());
        }
        let Some(protocol) = this.links.protocol_bound(py) else {
            return Ok(());
        };
        let protocol = &protocol;
        if st.buffered_protocol.get() {
            return Self::read_into_protocol(slf, st, protocol);
        }
        let read = st.read_bytes(py);
        match read {
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => this.links.fatal(
                py,
                os_error(e),
                &format!("Fatal read error on {} transport", st.noun()),
            ),
            Ok(data) if data.as_bytes().is_empty() && st.kind == Kind::ReadPipe => {
                Self::pipe_eof(slf, st, protocol)
            }
            Ok(data) if data.as_bytes().is_empty() => Self::eof_received(slf, protocol),
            Ok(data) => match protocol.call_method1(intern!(py, "data_received"), (data,)) {
                Ok(_) => Ok(()),
                Err(err) => this.links.fatal(
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
                return this
                    .links
                    .fatal(py, err, "Fatal error: protocol.get_buffer() call failed.")
            }
        };
        // SAFETY: a writable C-contiguous buffer of `len_bytes` bytes, alive
        // while `buffer` is held; recv runs no Python code.
        let slice = unsafe {
            std::slice::from_raw_parts_mut(buffer.buf_ptr() as *mut u8, buffer.len_bytes())
        };
        let read = st.read(slice);
        drop(buffer);
        match read {
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => this
                .links
                .fatal(py, os_error(e), "Fatal read error on socket transport"),
            Ok(0) => Self::eof_received(slf, protocol),
            Ok(n) => match protocol.call_method1(intern!(py, "buffer_updated"), (n,)) {
                Ok(_) => Ok(()),
                Err(err) => this.links.fatal(
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
                return this.links.fatal(
                    py,
                    err,
                    "Fatal error: protocol.eof_received() call failed.",
                )
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
        // In completion mode a send fails in the background: reported here,
        // as a failed `send` from the buffer is below.
        if let Some(e) = st.watched.ring().and_then(|ring| ring.send_error()) {
            return Self::write_failed(slf, st, e);
        }
        if st.pending() == 0 {
            if st.unsent() > 0 {
                // The ring still sends: an `on_writable` callback waits for
                // all of it.
                return Ok(());
            }
            st.wants_writable.set(false);
            st.update_interest()?;
            let callback = this.links.set_on_writable(None);
            if let Some(callback) = callback {
                callback.call0(py)?;
            }
            return Ok(());
        }
        let sent = {
            let buffer = st.buffer.borrow();
            st.write(&buffer[st.sent.get()..])
        };
        match sent {
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => Self::write_failed(slf, st, e),
            Ok(n) => {
                st.consume(n);
                Self::maybe_resume_protocol(slf)?; // may write more
                if st.pending() == 0 {
                    st.update_interest()?;
                    if st.closing.get() {
                        return Self::_call_connection_lost(slf, py.None().into_bound(py));
                    } else if st.eof.get() {
                        st.shutdown_write();
                    }
                }
                Ok(())
            }
        }
    }

    /// A write from the buffer failed: the buffer goes, sendfile's waiter
    /// hears of it, and the transport closes with the error.
    fn write_failed(slf: &Bound<'_, Self>, st: &State, e: std::io::Error) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        st.clear_buffer();
        st.update_interest()?;
        let err = os_error(e);
        let transport = this.links.transport(py).filter(|_| st.kind == Kind::Socket);
        if let Some(transport) = transport {
            transport.call_method1(
                py,
                intern!(py, "_write_failed"),
                (err.clone_ref(py).into_value(py),),
            )?;
        }
        let message = format!("Fatal write error on {} transport", st.noun());
        this.links.fatal(py, err, &message)
    }

    fn maybe_pause_protocol(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let st = this.state.get()?;
        if !st.flow.pause_now(st.pending()) {
            return Ok(());
        }
        this.links
            .flow_callback(slf.py(), "pause_writing", "protocol.pause_writing() failed")
    }

    fn maybe_resume_protocol(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let st = this.state.get()?;
        if !st.flow.resume_now(st.pending()) {
            return Ok(());
        }
        this.links.flow_callback(
            slf.py(),
            "resume_writing",
            "protocol.resume_writing() failed",
        )
    }

    fn schedule_connection_lost(slf: &Bound<'_, Self>, exc: Bound<'_, PyAny>) -> PyResult<()> {
        slf.get().links.schedule_connection_lost(slf.as_any(), exc)
    }

    /// A read pipe's EOF: asyncio's pipe transport closes at once (the
    /// protocol's `eof_received` cannot keep it open).
    fn pipe_eof(slf: &Bound<'_, Self>, st: &State, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        st.closing.set(true);
        st.update_interest()?;
        if let Some(the_loop) = slf.get().links.the_loop(py) {
            let eof_received = protocol.getattr(intern!(py, "eof_received"))?;
            the_loop.call_method1(py, intern!(py, "call_soon"), (eof_received,))?;
        }
        Self::schedule_connection_lost(slf, py.None().into_bound(py))
    }

    /// A write pipe's reader went away (the write end reports an error):
    /// asyncio closes the transport, with `BrokenPipeError` if data was
    /// still to go.
    fn reader_gone(slf: &Bound<'_, Self>, st: &State) -> PyResult<()> {
        let py = slf.py();
        let exc = if st.pending() > 0 {
            pyo3::exceptions::PyBrokenPipeError::new_err(())
                .into_value(py)
                .into_any()
                .into_bound(py)
        } else {
            py.None().into_bound(py)
        };
        Self::force_close(slf, exc)
    }
}

#[pymethods]
impl StreamIO {
    /// Watches `fd` on `loop` for `transport`, whose protocol is
    /// `protocol`; `kind` is `"socket"` (a stream socket), `"read_pipe"`
    /// or `"write_pipe"`.
    #[new]
    #[pyo3(signature = (the_loop, fd, transport, protocol, kind = "socket"))]
    fn new(
        the_loop: &Bound<'_, PyAny>,
        fd: RawFd,
        transport: Py<PyAny>,
        protocol: &Bound<'_, PyAny>,
        kind: &str,
    ) -> PyResult<StreamIO> {
        let kind = match kind {
            "socket" => Kind::Socket,
            "read_pipe" => Kind::ReadPipe,
            "write_pipe" => Kind::WritePipe,
            other => {
                return Err(PyValueError::new_err(format!(
                    "kind must be 'socket', 'read_pipe' or 'write_pipe', not {other:?}"
                )))
            }
        };
        let core = the_loop.cast::<CoreLoop>()?;
        let watched = match kind {
            Kind::Socket => Watched::stream_socket(core.get(), fd)?,
            _ => Watched::new(core.get(), fd)?,
        };
        let this = StreamIO {
            state: ThreadBound::new(State::new(kind, watched)),
            links: LinkCell::new(Links {
                the_loop: Some(the_loop.clone().unbind()),
                transport: Some(transport),
                ..Links::default()
            }),
        };
        this.set_protocol(protocol)?;
        Ok(this)
    }

    /// Starts the tasks that run the transport when its descriptor is
    /// ready. Called once, by the Python half, right after construction.
    fn _spawn(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let Some(the_loop) = slf.get().links.the_loop(py) else {
            return Ok(());
        };
        let core = the_loop.bind(py).cast::<CoreLoop>()?.clone();
        spawn_ready_tasks(slf, core.get())
    }

    /// The loop is closing: it lets go of the transport (its watch and the
    /// reference that kept it alive), which the garbage collector then
    /// finalizes as asyncio's would (a `ResourceWarning`, the socket
    /// closed).
    fn _release(&self) -> PyResult<()> {
        self.state.get()?.watched.unwatch();
        Ok(())
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
        // asyncio's pipe transports always call `data_received`.
        st.buffered_protocol
            .set(buffered && st.kind == Kind::Socket);
        st.protocol_connected.set(true);
        self.links.set_protocol(protocol.clone().unbind());
        Ok(())
    }

    fn get_protocol(&self, py: Python<'_>) -> Py<PyAny> {
        self.links.protocol(py).unwrap_or_else(|| py.None())
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

    /// asyncio's `Transport.write`: tries the descriptor first, buffers the
    /// rest, pauses the protocol above the high-water mark. A pipe takes
    /// nothing once closing (its `write_eof` is its close).
    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        let lost = || st.conn_lost.get() > 0 || (st.kind != Kind::Socket && st.closing.get());
        let Some(result) = with_bytes(data, |bytes| -> Option<std::io::Result<usize>> {
            if st.eof.get() || bytes.is_empty() || lost() {
                return None;
            }
            if st.pending() > 0 {
                st.buffer.borrow_mut().extend_from_slice(bytes);
                return Some(Ok(bytes.len()));
            }
            let sent = match st.write(bytes) {
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
            if lost() && data.len()? > 0 {
                // asyncio counts these writes in `_conn_lost`; here a pipe
                // still flushing its buffer after `write_eof` counts them
                // apart, so that its buffer still goes out.
                let count = if st.conn_lost.get() > 0 {
                    &st.conn_lost
                } else {
                    &st.dropped_writes
                };
                if count.get() >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
                    let message = match st.kind {
                        Kind::Socket => "socket.send() raised exception.",
                        _ => "pipe closed by peer or os.write(pipe, data) raised exception.",
                    };
                    py.import("asyncio.log")?
                        .getattr("logger")?
                        .call_method1("warning", (message,))?;
                }
                count.set(count.get() + 1);
            }
            return Ok(());
        };
        if let Err(e) = result {
            let message = format!("Fatal write error on {} transport", st.noun());
            return this.links.fatal(py, os_error(e), &message);
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
            if !is_bytes_like(item) {
                return Err(not_bytes_like(item));
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
        let sent = match st.write_vectored(&all) {
            Err(e) if would_block(&e) => 0,
            Err(e) => {
                return slf.get().links.fatal(
                    py,
                    os_error(e),
                    "Fatal write error on socket transport",
                )
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
            st.shutdown_write();
        }
        Ok(())
    }

    /// Calls `callback()` once the socket is writable and nothing is
    /// buffered, nor (in completion mode) left in the ring to send
    /// (replacing a callback that still waits).
    fn _wait_writable(&self, callback: Py<PyAny>) -> PyResult<()> {
        let old = self.links.set_on_writable(Some(callback));
        drop(old);
        let st = self.state.get()?;
        st.wants_writable.set(true);
        st.update_interest()
    }

    fn get_write_buffer_size(&self) -> PyResult<usize> {
        Ok(self.state.get()?.pending())
    }

    /// Bytes written and not yet handed to the socket, the ring's
    /// outgoing buffer included (sendfile waits for none).
    fn _unsent(&self) -> PyResult<usize> {
        Ok(self.state.get()?.unsent())
    }

    /// Whether the socket is read and written through io_uring
    /// completions (else readiness and `recv`/`send`).
    fn _is_completion_based(&self) -> PyResult<bool> {
        Ok(self.state.get()?.watched.ring().is_some())
    }

    /// `(low, high)`, as asyncio's `get_write_buffer_limits`.
    fn get_write_buffer_limits(&self) -> PyResult<(usize, usize)> {
        Ok(self.state.get()?.flow.limits())
    }

    /// Sets validated limits (the Python half computes the defaults).
    fn _set_limits(slf: &Bound<'_, Self>, high: usize, low: usize) -> PyResult<()> {
        slf.get().state.get()?.flow.set_limits(high, low);
        Self::maybe_pause_protocol(slf)
    }

    #[getter]
    fn protocol_paused(&self) -> PyResult<bool> {
        Ok(self.state.get()?.flow.paused())
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
        st.discard_unsent();
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
        this.state.get()?.watched.unwatch();
        this.links.connection_lost(py, connected, exc)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.links.traverse(&visit)
    }

    fn __clear__(&self) {
        self.links.clear();
    }
}
