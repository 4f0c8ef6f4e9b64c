//! `CoreLoop`: corio's Rust loop, driven by `corio.Loop` (Python).
//!
//! It belongs to the thread that created it (`unsendable`): the Python
//! `Loop` checks the thread before calling in, and hands other threads a
//! [`RemoteLoop`] instead.

use std::cell::{Ref, RefCell};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::io::{Interest, Watch};
use corio::{Runtime, Task};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::gil::{take_pending, ReleaseGil};
use crate::handle_runnable::{debug_scope, forget_timer, remember_timer, runnable, timer_runnable};
use crate::owned::ThreadBound;
use crate::threadsafe::RemoteLoop;

/// The readers and writers watching one descriptor.
struct FdWatch {
    watch: Rc<Watch>,
    reader: Option<Watcher>,
    writer: Option<Watcher>,
}

/// A reader or writer: the handle asyncio gave back, and the task that
/// runs it whenever the descriptor is ready.
struct Watcher {
    handle: Py<PyAny>,
    task: Task<()>,
}

impl FdWatch {
    fn interest(&self) -> Interest {
        let mut interest = Interest::NONE;
        if self.reader.is_some() {
            interest = interest.with(Interest::READABLE);
        }
        if self.writer.is_some() {
            interest = interest.with(Interest::WRITABLE);
        }
        interest
    }
}

/// corio's loop for Python: ready queue, timers, fd watches, the wait.
/// Any thread may hold it (and the garbage collector may drop it
/// anywhere); only its own thread may use it.
#[pyclass(module = "corio._corio", frozen)]
pub struct CoreLoop {
    inner: ThreadBound<Inner>,
}

struct Inner {
    // Callbacks re-enter the loop while it runs an iteration: every method
    // takes `&self`, and the state that changes lives in `RefCell`s.
    rt: RefCell<Option<Runtime>>,
    fds: RefCell<HashMap<RawFd, FdWatch>>,
    /// One reading of both clocks (the same `CLOCK_MONOTONIC`), so that a
    /// float deadline maps to one instant, always the same: equal floats
    /// stay equal, and their order is kept.
    origin: (Instant, f64),
}

/// `time.monotonic()`: the clock asyncio's `loop.time()` reads.
fn monotonic() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the struct we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn closed() -> PyErr {
    PyRuntimeError::new_err("Event loop is closed")
}

impl Inner {
    fn rt(&self) -> PyResult<Ref<'_, Runtime>> {
        Ref::filter_map(self.rt.borrow(), Option::as_ref).map_err(|_| closed())
    }

    fn watch(&self, fd: RawFd, handle: Py<PyAny>, read: bool) -> PyResult<()> {
        let rt = self.rt()?;
        let mut fds = self.fds.borrow_mut();
        let entry = match fds.entry(fd) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(slot) => slot.insert(FdWatch {
                watch: Rc::new(Watch::on(&rt, fd, Interest::NONE).map_err(PyErr::from)?),
                reader: None,
                writer: None,
            }),
        };
        let watch = entry.watch.clone();
        let runner = Python::attach(|py| handle.clone_ref(py));
        let task = rt.spawn(async move {
            loop {
                if read {
                    watch.readable().await;
                } else {
                    watch.writable().await;
                }
                let again = Python::attach(|py| runner.clone_ref(py));
                runnable(again).run();
            }
        });
        let watcher = Watcher { handle, task };
        let old = if read {
            entry.reader.replace(watcher)
        } else {
            entry.writer.replace(watcher)
        };
        entry
            .watch
            .set_interest(entry.interest())
            .map_err(PyErr::from)?;
        drop(fds);
        drop(rt);
        if let Some(old) = old {
            old.task.cancel();
            Python::attach(|py| old.handle.bind(py).call_method0("cancel").map(drop))?;
        }
        Ok(())
    }

    fn unwatch(&self, fd: RawFd, read: bool) -> PyResult<bool> {
        let mut fds = self.fds.borrow_mut();
        let Some(entry) = fds.get_mut(&fd) else {
            return Ok(false);
        };
        let old = if read {
            entry.reader.take()
        } else {
            entry.writer.take()
        };
        let Some(old) = old else {
            return Ok(false);
        };
        old.task.cancel();
        let interest = entry.interest();
        let removed = if interest.is_empty() {
            fds.remove(&fd)
        } else {
            entry.watch.set_interest(interest).map_err(PyErr::from)?;
            None
        };
        drop(fds);
        drop(removed);
        Python::attach(|py| old.handle.bind(py).call_method0("cancel").map(drop))?;
        Ok(true)
    }
}

#[pymethods]
impl CoreLoop {
    #[new]
    fn new() -> PyResult<CoreLoop> {
        let rt = Runtime::builder()
            .wait_hooks(Arc::new(ReleaseGil))
            .build()
            .map_err(PyErr::from)?;
        let origin = (rt.now(), monotonic());
        Ok(CoreLoop {
            inner: ThreadBound::new(Inner {
                rt: RefCell::new(Some(rt)),
                fds: RefCell::new(HashMap::new()),
                origin,
            }),
        })
    }

    /// `time.monotonic()`, the loop's clock.
    #[staticmethod]
    fn time() -> f64 {
        monotonic()
    }

    /// Puts an asyncio `Handle` on the ready queue.
    fn call_soon(&self, handle: Py<PyAny>) -> PyResult<()> {
        self.inner.get()?.rt()?.call_soon_raw(runnable(handle));
        Ok(())
    }

    /// Runs an asyncio `TimerHandle` at `when` (`loop.time()` seconds).
    fn call_at(&self, when: f64, handle: Py<PyAny>) -> PyResult<()> {
        let rt = self.inner.get()?.rt()?;
        let (origin, origin_secs) = self.inner.get()?.origin;
        let deadline = origin + Duration::from_secs_f64((when - origin_secs).clamp(0.0, 1e9));
        let key = handle.as_ptr() as usize;
        let id = rt.call_at_raw(deadline, timer_runnable(handle));
        remember_timer(key, id);
        Ok(())
    }

    /// Drops a cancelled timer at once (asyncio leaves it until it fires).
    fn cancel_timer(&self, handle: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Some(id) = forget_timer(handle.as_ptr() as usize) {
            if let Ok(rt) = self.inner.get()?.rt() {
                rt.cancel_timer(id);
            }
        }
        Ok(())
    }

    /// One iteration: poll (not waiting if `nowait`), fire due timers, run
    /// what was ready. Raises what a callback or signal handler raised
    /// that must stop the loop (`KeyboardInterrupt`, `SystemExit`).
    #[pyo3(signature = (nowait, debug = false))]
    fn run_once(&self, nowait: bool, debug: bool) -> PyResult<()> {
        let rt = self.inner.get()?.rt()?;
        let _busy = self.inner.enter_busy()?;
        let _debug = debug_scope(debug);
        if nowait {
            rt.run_once_nowait();
        } else {
            rt.run_once();
        }
        match take_pending() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn add_reader(&self, fd: RawFd, handle: Py<PyAny>) -> PyResult<()> {
        self.inner.get()?.watch(fd, handle, true)
    }

    fn add_writer(&self, fd: RawFd, handle: Py<PyAny>) -> PyResult<()> {
        self.inner.get()?.watch(fd, handle, false)
    }

    fn remove_reader(&self, fd: RawFd) -> PyResult<bool> {
        self.inner.get()?.unwatch(fd, true)
    }

    fn remove_writer(&self, fd: RawFd) -> PyResult<bool> {
        self.inner.get()?.unwatch(fd, false)
    }

    /// The handle other threads use.
    fn remote(&self) -> PyResult<RemoteLoop> {
        Ok(RemoteLoop {
            handle: self.inner.get()?.rt()?.handle(),
        })
    }

    /// Closes the loop: pending callbacks, timers and watches are dropped.
    fn close(&self) -> PyResult<()> {
        let inner = self.inner.get()?;
        let fds: Vec<FdWatch> = inner.fds.borrow_mut().drain().map(|(_, w)| w).collect();
        drop(fds);
        let rt = inner
            .rt
            .try_borrow_mut()
            .map_err(|_| PyRuntimeError::new_err("Cannot close a running event loop"))?
            .take();
        drop(rt);
        Ok(())
    }

    fn is_closed(&self) -> PyResult<bool> {
        Ok(self
            .inner
            .get()?
            .rt
            .try_borrow()
            .is_ok_and(|rt| rt.is_none()))
    }
}
