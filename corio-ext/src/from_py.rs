//! A Python awaitable as a Rust future: `into_future`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use pyo3::intern;
use pyo3::prelude::*;

use crate::asyncio::ensure_future;

/// Starts `awaitable` on the running loop (`asyncio.ensure_future`: a
/// coroutine becomes a task, a future stays itself) and returns a Rust
/// future of its outcome: its result, or the exception it raised as a
/// `PyErr`. Its completion wakes the awaiting Rust task on the loop's own
/// thread (a done callback; no lock, no thread). Dropping the Rust future
/// before it is ready cancels the Python side.
pub fn into_future(awaitable: &Bound<'_, PyAny>) -> PyResult<PyFuture> {
    let py = awaitable.py();
    let fut = ensure_future(awaitable)?;
    let state = Rc::new(DoneState {
        done: Cell::new(false),
        waker: RefCell::new(None),
    });
    let on_done = Bound::new(
        py,
        WakeOnDone {
            state: state.clone(),
        },
    )?;
    fut.call_method1(intern!(py, "add_done_callback"), (on_done,))?;
    Ok(PyFuture {
        fut: fut.unbind(),
        state,
    })
}

/// The Rust future `into_future` returns. `!Send`: it belongs to the
/// loop's thread.
pub struct PyFuture {
    fut: Py<PyAny>,
    state: Rc<DoneState>,
}

impl std::fmt::Debug for PyFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyFuture")
            .field("done", &self.state.done.get())
            .finish_non_exhaustive()
    }
}

struct DoneState {
    done: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Future for PyFuture {
    type Output = PyResult<Py<PyAny>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.state.done.get() {
            return Poll::Ready(Python::attach(|py| {
                self.fut.call_method0(py, intern!(py, "result"))
            }));
        }
        let mut waker = self.state.waker.borrow_mut();
        match waker.as_ref() {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for PyFuture {
    fn drop(&mut self) {
        if !self.state.done.get() {
            Python::attach(|py| {
                if let Err(err) = self.fut.call_method0(py, intern!(py, "cancel")) {
                    err.write_unraisable(py, None);
                }
            });
        }
    }
}

/// The Python future's done callback: wakes the Rust task waiting on it.
#[pyclass(unsendable)]
struct WakeOnDone {
    state: Rc<DoneState>,
}

#[pymethods]
impl WakeOnDone {
    fn __call__(&self, _fut: &Bound<'_, PyAny>) {
        self.state.done.set(true);
        let waker = self.state.waker.borrow_mut().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}
