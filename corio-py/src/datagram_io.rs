//! `DatagramIO`: the Rust half of corio's datagram transport (UDP and Unix
//! datagram sockets; the Python half is `corio._datagram.DatagramTransport`).
//! It reads each datagram into a reused buffer and hands it, with its
//! sender's address, to `protocol.datagram_received`; `sendto` tries the
//! socket first and queues only what it would not take; errors of the
//! socket go to `protocol.error_received`, as asyncio's selector transport
//! does. Literal addresses are converted here (module `sockaddr`); host
//! names and other families go through the Python socket's own methods.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::os::fd::RawFd;

use corio::io::Interest;
use pyo3::exceptions::{PyBlockingIOError, PyInterruptedError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use pyo3::{intern, PyTraverseError, PyVisit};

use crate::core_loop::CoreLoop;
use crate::flow::FlowControl;
use crate::gil::must_propagate;
use crate::links::{LinkCell, Links};
use crate::owned::ThreadBound;
use crate::sockaddr::SockAddr;
use crate::socket_ops::{
    is_bytes_like, not_bytes_like, os_error, with_bytes, with_read_buf, would_block,
};
use crate::stream_io::LOG_THRESHOLD_FOR_CONNLOST_WRITES;
use crate::watched::{spawn_ready_tasks, OnReady, Watched};

/// asyncio's `max_size` for a datagram transport.
const MAX_DATAGRAM: usize = 256 * 1024;

/// A datagram that waits for the socket: its bytes and where it goes.
struct Queued {
    data: Vec<u8>,
    addr: Option<Py<PyAny>>,
}

/// One datagram transport's state (the loop thread only touches it).
struct State {
    watched: Watched,
    family: i32,
    /// The socket has a peer (`peername` was set): `send`, not `sendto`.
    connected: bool,
    /// The peer given to `create_datagram_endpoint(remote_addr=...)`.
    address: Option<Py<PyAny>>,
    /// The Python socket, for what this module does not convert.
    sock: Py<PyAny>,
    /// What asyncio adds to a queued datagram's size (8 from 3.13 on).
    header_bytes: usize,
    /// Empty datagrams are sent (3.13 on) or dropped (before).
    send_empty: bool,
    queue: RefCell<VecDeque<Queued>>,
    buffer_size: Cell<usize>,
    conn_lost: Cell<u32>,
    closing: Cell<bool>,
    reading_started: Cell<bool>,
    protocol_connected: Cell<bool>,
    flow: FlowControl,
}

impl State {
    fn update_interest(&self) -> PyResult<()> {
        let mut want = Interest::NONE;
        if self.conn_lost.get() == 0 {
            if self.reading_started.get() && !self.closing.get() {
                want = want.with(Interest::READABLE);
            }
            if !self.queue.borrow().is_empty() {
                want = want.with(Interest::WRITABLE);
            }
        }
        self.watched.set_interest(want)
    }

    /// Where a datagram goes, worked out before its bytes are borrowed
    /// (converting an address may run Python code).
    fn target(&self, py: Python<'_>, addr: Option<&Bound<'_, PyAny>>) -> Target {
        if self.connected {
            return Target::Peer;
        }
        match addr.and_then(|a| SockAddr::from_python(self.family, a)) {
            Some(sa) => Target::Native(sa),
            None => Target::Python(addr.map_or_else(|| py.None(), |a| a.clone().unbind())),
        }
    }

    /// One send (`Err` holds what the system call or the Python socket
    /// raised).
    fn send(&self, py: Python<'_>, data: &[u8], target: &Target) -> PyResult<()> {
        let fd = self.watched.fd;
        let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        let n = match target {
            // SAFETY: `data` is a live slice; send reads at most its length.
            Target::Peer => unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), flags) },
            // SAFETY: as above; `sa` is a valid address of `sa.len` bytes.
            Target::Native(sa) => unsafe {
                libc::sendto(
                    fd,
                    data.as_ptr().cast(),
                    data.len(),
                    flags,
                    sa.sockaddr_ptr(),
                    sa.len,
                )
            },
            Target::Python(addr) => {
                // The bytes are copied before any Python code runs.
                let bytes = PyBytes::new(py, data);
                self.sock
                    .call_method1(py, intern!(py, "sendto"), (bytes, addr.clone_ref(py)))?;
                return Ok(());
            }
        };
        if n < 0 {
            return Err(os_error(std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

/// Where one datagram goes.
enum Target {
    /// The connected peer (`send`).
    Peer,
    /// A converted literal address (`sendto`).
    Native(SockAddr),
    /// Anything else: the Python socket's `sendto(data, addr)`.
    Python(Py<PyAny>),
}

/// The Rust half of a datagram transport.
#[pyclass(module = "corio._corio", frozen, weakref)]
pub struct DatagramIO {
    state: ThreadBound<State>,
    links: LinkCell,
}

impl OnReady for DatagramIO {
    fn watched(&self) -> PyResult<&Watched> {
        Ok(&self.state.get()?.watched)
    }

    fn read_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::read_ready(slf)
    }

    fn write_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::sendto_ready(slf)
    }
}

/// `BlockingIOError`/`InterruptedError`: try again when ready.
fn is_retry(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<PyBlockingIOError>(py) || err.is_instance_of::<PyInterruptedError>(py)
}

impl DatagramIO {
    fn read_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        if st.conn_lost.get() > 0 || st.closing.get() {
            return Ok(());
        }
        let received = if matches!(st.family, libc::AF_INET | libc::AF_INET6 | libc::AF_UNIX) {
            with_read_buf(|buf| {
                let buf = &mut buf[..MAX_DATAGRAM];
                let mut from = SockAddr::empty();
                // SAFETY: `buf` is writable for its length; `from` has room
                // for any address and its length says so.
                let n = unsafe {
                    libc::recvfrom(
                        st.watched.fd,
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        libc::MSG_DONTWAIT,
                        from.sockaddr_mut_ptr(),
                        &mut from.len,
                    )
                };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    return if would_block(&e) {
                        Ok(None)
                    } else {
                        Err(os_error(e))
                    };
                }
                let data = PyBytes::new(py, &buf[..n as usize]).into_any().unbind();
                Ok(Some((data, from.to_python(py)?)))
            })
        } else {
            let sock = st.sock.clone_ref(py);
            match sock.call_method1(py, intern!(py, "recvfrom"), (MAX_DATAGRAM,)) {
                Ok(pair) => {
                    let pair = pair.bind(py).cast::<PyTuple>()?.clone();
                    Ok(Some((
                        pair.get_item(0)?.unbind(),
                        pair.get_item(1)?.unbind(),
                    )))
                }
                Err(err) if is_retry(py, &err) => Ok(None),
                Err(err) => Err(err),
            }
        };
        let Some(protocol) = this.links.protocol_bound(py) else {
            return Ok(());
        };
        match received {
            Ok(None) => Ok(()),
            Ok(Some((data, addr))) => {
                let result = protocol
                    .call_method1(intern!(py, "datagram_received"), (data, addr))
                    .map(drop);
                this.callback_result(py, result)
            }
            Err(err) => this.socket_error(py, err, "Fatal read error on datagram transport"),
        }
    }

    /// An `OSError` of the socket goes to `protocol.error_received`;
    /// anything else is fatal.
    fn socket_error(&self, py: Python<'_>, err: PyErr, message: &str) -> PyResult<()> {
        if !err.is_instance_of::<PyOSError>(py) {
            return self.links.fatal(py, err, message);
        }
        let Some(protocol) = self.links.protocol_bound(py) else {
            return Ok(());
        };
        let result = protocol
            .call_method1(intern!(py, "error_received"), (err.into_value(py),))
            .map(drop);
        self.callback_result(py, result)
    }

    /// asyncio lets an exception of `datagram_received`/`error_received`
    /// escape its callback, to the loop's exception handler; the
    /// transport stays open.
    fn callback_result(&self, py: Python<'_>, result: PyResult<()>) -> PyResult<()> {
        let Err(err) = result else {
            return Ok(());
        };
        if must_propagate(py, &err) {
            return Err(err);
        }
        if let Some(transport) = self.links.transport(py) {
            transport.call_method1(py, intern!(py, "_callback_error"), (err.into_value(py),))?;
        }
        Ok(())
    }

    fn sendto_ready(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        loop {
            let Some(item) = st.queue.borrow_mut().pop_front() else {
                break;
            };
            st.buffer_size
                .set(st.buffer_size.get() - item.data.len() - st.header_bytes);
            let addr = item.addr.as_ref().map(|a| a.bind(py).clone());
            let target = st.target(py, addr.as_ref());
            match st.send(py, &item.data, &target) {
                Ok(()) => {}
                Err(err) if is_retry(py, &err) => {
                    st.buffer_size
                        .set(st.buffer_size.get() + item.data.len() + st.header_bytes);
                    st.queue.borrow_mut().push_front(item);
                    break;
                }
                Err(err) => {
                    return this.socket_error(py, err, "Fatal write error on datagram transport")
                }
            }
        }
        Self::maybe_resume_protocol(slf)?; // may queue more
        if st.queue.borrow().is_empty() {
            st.update_interest()?;
            if st.closing.get() {
                return Self::_call_connection_lost(slf, py.None().into_bound(py));
            }
        }
        Ok(())
    }

    fn maybe_pause_protocol(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let st = this.state.get()?;
        if !st.flow.pause_now(st.buffer_size.get()) {
            return Ok(());
        }
        this.links
            .flow_callback(slf.py(), "pause_writing", "protocol.pause_writing() failed")
    }

    fn maybe_resume_protocol(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let st = this.state.get()?;
        if !st.flow.resume_now(st.buffer_size.get()) {
            return Ok(());
        }
        this.links.flow_callback(
            slf.py(),
            "resume_writing",
            "protocol.resume_writing() failed",
        )
    }
}

#[pymethods]
impl DatagramIO {
    /// Watches the datagram socket `sock` (descriptor `fd`, address family
    /// `family`) on `loop` for `transport`. `connected`: the socket has a
    /// peer; `address`: the `remote_addr` it was given; `py313`: asyncio
    /// 3.13's `sendto` (empty datagrams sent, 8 bytes of header counted
    /// per queued datagram).
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        the_loop: &Bound<'_, PyAny>,
        fd: RawFd,
        family: i32,
        sock: Py<PyAny>,
        transport: Py<PyAny>,
        protocol: Py<PyAny>,
        connected: bool,
        address: Option<Py<PyAny>>,
        py313: bool,
    ) -> PyResult<DatagramIO> {
        let core = the_loop.cast::<CoreLoop>()?;
        let watched = Watched::new(core.get(), fd)?;
        Ok(DatagramIO {
            state: ThreadBound::new(State {
                watched,
                family,
                connected,
                address,
                sock,
                header_bytes: if py313 { 8 } else { 0 },
                send_empty: py313,
                queue: RefCell::new(VecDeque::new()),
                buffer_size: Cell::new(0),
                conn_lost: Cell::new(0),
                closing: Cell::new(false),
                reading_started: Cell::new(false),
                protocol_connected: Cell::new(true),
                flow: FlowControl::new(),
            }),
            links: LinkCell::new(Links {
                the_loop: Some(the_loop.clone().unbind()),
                transport: Some(transport),
                protocol: Some(protocol),
                on_writable: None,
            }),
        })
    }

    /// Starts the tasks that run the transport when its socket is ready.
    fn _spawn(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let Some(the_loop) = slf.get().links.the_loop(py) else {
            return Ok(());
        };
        let core = the_loop.bind(py).cast::<CoreLoop>()?.clone();
        spawn_ready_tasks(slf, core.get())
    }

    /// The loop is closing: it lets go of the transport.
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

    fn set_protocol(&self, protocol: Py<PyAny>) -> PyResult<()> {
        self.state.get()?.protocol_connected.set(true);
        self.links.set_protocol(protocol);
        Ok(())
    }

    fn get_protocol(&self, py: Python<'_>) -> Py<PyAny> {
        self.links.protocol(py).unwrap_or_else(|| py.None())
    }

    fn is_closing(&self) -> PyResult<bool> {
        Ok(self.state.get()?.closing.get())
    }

    /// asyncio's `DatagramTransport.sendto`.
    #[pyo3(signature = (data, addr = None))]
    fn sendto(
        slf: &Bound<'_, Self>,
        data: &Bound<'_, PyAny>,
        addr: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let st = this.state.get()?;
        if !is_bytes_like(data) {
            return Err(not_bytes_like(data));
        }
        let mut addr = addr.filter(|a| !a.is_none());
        if let Some(address) = &st.address {
            let address = address.bind(py);
            if let Some(a) = &addr {
                if !a.eq(address)? {
                    return Err(PyValueError::new_err(format!(
                        "Invalid address: must be None or {}",
                        address.str()?
                    )));
                }
            }
            addr = Some(address.clone());
        }
        if st.conn_lost.get() > 0 {
            // asyncio counts only on a connected transport (an unconnected
            // one raises on its closed socket); here both count.
            if st.conn_lost.get() >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
                py.import("asyncio.log")?
                    .getattr("logger")?
                    .call_method1("warning", ("socket.send() raised exception.",))?;
            }
            st.conn_lost.set(st.conn_lost.get() + 1);
            return Ok(());
        }
        let target = st.target(py, addr.as_ref());
        let queued = with_bytes(data, |bytes| -> PyResult<Option<Vec<u8>>> {
            if bytes.is_empty() && !st.send_empty {
                return Ok(None);
            }
            if !st.queue.borrow().is_empty() {
                return Ok(Some(bytes.to_vec()));
            }
            match st.send(py, bytes, &target) {
                Ok(()) => Ok(None),
                Err(err) if is_retry(py, &err) => Ok(Some(bytes.to_vec())),
                Err(err) => Err(err),
            }
        })?;
        let data = match queued {
            Ok(None) => return Ok(()),
            Ok(Some(data)) => data,
            Err(err) => {
                return this.socket_error(py, err, "Fatal write error on datagram transport")
            }
        };
        st.buffer_size
            .set(st.buffer_size.get() + data.len() + st.header_bytes);
        st.queue.borrow_mut().push_back(Queued {
            data,
            addr: addr.map(Bound::unbind),
        });
        st.update_interest()?;
        Self::maybe_pause_protocol(slf)
    }

    fn get_write_buffer_size(&self) -> PyResult<usize> {
        Ok(self.state.get()?.buffer_size.get())
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

    /// asyncio's `close`: stop reading; once the queue is sent, the
    /// protocol's `connection_lost(None)`.
    fn close(slf: &Bound<'_, Self>) -> PyResult<()> {
        let st = slf.get().state.get()?;
        if st.closing.get() {
            return Ok(());
        }
        st.closing.set(true);
        if st.queue.borrow().is_empty() {
            st.conn_lost.set(st.conn_lost.get() + 1);
            st.update_interest()?;
            let none = slf.py().None().into_bound(slf.py());
            return slf.get().links.schedule_connection_lost(slf.as_any(), none);
        }
        st.update_interest()
    }

    /// asyncio's `_force_close`: drop what is queued and close now.
    fn force_close(slf: &Bound<'_, Self>, exc: Bound<'_, PyAny>) -> PyResult<()> {
        let st = slf.get().state.get()?;
        if st.conn_lost.get() > 0 {
            return Ok(());
        }
        let queue = std::mem::take(&mut *st.queue.borrow_mut());
        drop(queue);
        st.buffer_size.set(0);
        st.closing.set(true);
        st.conn_lost.set(st.conn_lost.get() + 1);
        st.update_interest()?;
        slf.get().links.schedule_connection_lost(slf.as_any(), exc)
    }

    /// The last step: the protocol's `connection_lost(exc)`, then the
    /// Python half closes the socket (after the watch is gone).
    fn _call_connection_lost(slf: &Bound<'_, Self>, exc: Bound<'_, PyAny>) -> PyResult<()> {
        let this = slf.get();
        let st = this.state.get()?;
        let connected = st.protocol_connected.get();
        st.watched.unwatch();
        this.links.connection_lost(slf.py(), connected, exc)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.links.traverse(&visit)
    }

    fn __clear__(&self) {
        self.links.clear();
    }
}
