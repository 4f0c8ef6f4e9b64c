//! The Python objects a native transport's Rust half holds (its loop, its
//! Python half, its protocol) and the calls into them that every transport
//! makes alike: a fatal error, a flow-control callback, the scheduled
//! `connection_lost`.

use std::cell::RefCell;

use pyo3::prelude::*;
use pyo3::{intern, PyTraverseError, PyVisit};

use crate::gil::must_propagate;

/// The Python objects, kept apart so the garbage collector can see them.
#[derive(Default)]
pub(crate) struct Links {
    pub(crate) the_loop: Option<Py<PyAny>>,
    pub(crate) transport: Option<Py<PyAny>>,
    pub(crate) protocol: Option<Py<PyAny>>,
    /// Called once the descriptor is writable with nothing buffered
    /// (sendfile waits this way on the transport's own watch).
    pub(crate) on_writable: Option<Py<PyAny>>,
}

/// `Links` behind a `RefCell`, touched with the GIL held, from the loop
/// thread, and by the garbage collector (which holds the GIL, and takes
/// them only through `traverse`, reading, or `clear`, which the loop never
/// overlaps).
#[derive(Default)]
pub(crate) struct LinkCell(RefCell<Links>);

// SAFETY: see the type's comment: only Python references (themselves
// `Send`), only touched with the GIL held.
unsafe impl Sync for LinkCell {}

impl LinkCell {
    pub(crate) fn new(links: Links) -> LinkCell {
        LinkCell(RefCell::new(links))
    }

    pub(crate) fn protocol(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.0.borrow().protocol.as_ref().map(|p| p.clone_ref(py))
    }

    /// The protocol, bound: dropping it is a plain decref (a `Py`'s drop
    /// first checks this thread's GIL state), for the per-event paths.
    pub(crate) fn protocol_bound<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.0
            .borrow()
            .protocol
            .as_ref()
            .map(|p| p.bind(py).clone())
    }

    pub(crate) fn transport(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.0.borrow().transport.as_ref().map(|t| t.clone_ref(py))
    }

    pub(crate) fn the_loop(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.0.borrow().the_loop.as_ref().map(|l| l.clone_ref(py))
    }

    pub(crate) fn set_protocol(&self, protocol: Py<PyAny>) {
        let old = self.0.borrow_mut().protocol.replace(protocol);
        drop(old);
    }

    /// Replaces the `on_writable` callback (dropped outside the borrow).
    pub(crate) fn set_on_writable(&self, callback: Option<Py<PyAny>>) -> Option<Py<PyAny>> {
        std::mem::replace(&mut self.0.borrow_mut().on_writable, callback)
    }

    /// Lets go of everything (after `connection_lost`).
    pub(crate) fn release(&self) {
        let old = std::mem::take(&mut *self.0.borrow_mut());
        drop(old);
    }

    /// asyncio's `_fatal_error`, in the Python half (logging or the
    /// exception handler), which then closes the transport.
    pub(crate) fn fatal(&self, py: Python<'_>, err: PyErr, message: &str) -> PyResult<()> {
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

    /// Calls `pause_writing`/`resume_writing`; an exception goes to the
    /// loop's exception handler (asyncio's `_FlowControlMixin`).
    pub(crate) fn flow_callback(
        &self,
        py: Python<'_>,
        method: &str,
        message: &str,
    ) -> PyResult<()> {
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

    /// `loop.call_soon(io._call_connection_lost, exc)`.
    pub(crate) fn schedule_connection_lost(
        &self,
        io: &Bound<'_, PyAny>,
        exc: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = io.py();
        if let Some(the_loop) = self.the_loop(py) {
            let callback = io.getattr(intern!(py, "_call_connection_lost"))?;
            the_loop.call_method1(py, intern!(py, "call_soon"), (callback, exc))?;
        }
        Ok(())
    }

    /// The protocol's `connection_lost(exc)` (if it was connected), then
    /// everything let go, then the Python half's `_finish_close` (which
    /// closes the descriptor): asyncio's `_call_connection_lost`.
    pub(crate) fn connection_lost(
        &self,
        py: Python<'_>,
        connected: bool,
        exc: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let result = match self.protocol(py) {
            Some(protocol) if connected => protocol
                .call_method1(py, intern!(py, "connection_lost"), (exc,))
                .map(drop),
            _ => Ok(()),
        };
        let transport = self.transport(py);
        self.release();
        if let Some(transport) = transport {
            transport.call_method0(py, intern!(py, "_finish_close"))?;
        }
        result
    }

    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(links) = self.0.try_borrow() {
            visit.call(&links.the_loop)?;
            visit.call(&links.transport)?;
            visit.call(&links.protocol)?;
            visit.call(&links.on_writable)?;
        }
        Ok(())
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut links) = self.0.try_borrow_mut() {
            let old = std::mem::take(&mut *links);
            drop(links);
            drop(old);
        }
    }
}
