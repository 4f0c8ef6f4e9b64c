//! `CoreLoop`: corio's Rust loop, the native base class of `corio.Loop`.
//!
//! The scheduling methods asyncio calls most (`call_soon`, `call_later`,
//! `call_at`, `time`, `_run_once`) are defined here, so they override
//! `asyncio.BaseEventLoop`'s and run with no Python frame; outside debug
//! mode they make Rust handles (module `handle`). Its other methods are
//! named `_core_*`: the Python `Loop` builds asyncio's API on them. One
//! thread at a time uses it ([`ThreadBound`]); other threads get a
//! [`RemoteLoop`].

use std::cell::{Ref, RefCell};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::io::{CompletionSocket, Interest, Watch};
use corio::runtime::TimerId;
use corio::{Runtime, Task};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::gil::{take_pending, ReleaseGil};
use crate::handle::{new_handle, new_timer_handle, set_pending_timer};
use crate::handle_runnable::{debug_scope, forget_timer, remember_timer, runnable, timer_runnable};
use crate::loop_method::GilSlot;
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
#[pyclass(module = "corio._corio", frozen, subclass)]
pub struct CoreLoop {
    inner: ThreadBound<Inner>,
    /// asyncio's debug mode (the Python `Loop._debug` property), which any
    /// thread may read (`get_debug`).
    debug: AtomicBool,
    /// asyncio's `_stopping` (the Python `Loop._stopping` property): set by
    /// `stop()`, from any thread.
    stopping: AtomicBool,
    /// The bound `call_soon` every `getattr(loop, "call_soon")` returns
    /// before Python 3.12 (module `loop_method`); a reference cycle
    /// through the loop, shown to the collector and dropped by `close`.
    bound_call_soon: GilSlot,
}

struct Inner {
    // Callbacks re-enter the loop while it runs an iteration: every method
    // takes `&self`, and the state that changes lives in `RefCell`s.
    rt: RefCell<Option<Runtime>>,
    fds: RefCell<HashMap<RawFd, FdWatch>>,
    /// `{"loop": self}` while the loop runs (see `loop_kwargs`).
    loop_kwargs: RefCell<Option<Py<PyDict>>>,
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

    /// The instant a `loop.time()` deadline names (NaN: never).
    fn deadline(&self, when: f64) -> Instant {
        let (origin, origin_secs) = self.origin;
        let after = when - origin_secs;
        let after = if after.is_nan() {
            1e9
        } else {
            after.clamp(0.0, 1e9)
        };
        origin + Duration::from_secs_f64(after)
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
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.bound_call_soon.traverse(&visit)
    }

    fn __clear__(&self) {
        Python::attach(|py| self.bound_call_soon.retire(py));
    }

    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyAny>>) -> PyResult<CoreLoop> {
        let rt = Runtime::builder()
            .wait_hooks(Arc::new(ReleaseGil))
            .poll_each_iteration(true)
            .build()
            .map_err(PyErr::from)?;
        let origin = (rt.now(), monotonic());
        Ok(CoreLoop {
            inner: ThreadBound::new(Inner {
                rt: RefCell::new(Some(rt)),
                fds: RefCell::new(HashMap::new()),
                loop_kwargs: RefCell::new(None),
                origin,
            }),
            debug: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            bound_call_soon: GilSlot::new(),
        })
    }

    /// The kernel interface the loop waits on for I/O: `"epoll"` or
    /// `"io_uring"` (chosen by `CORIO_IO_BACKEND` when the loop was made).
    fn io_backend(&self) -> PyResult<&'static str> {
        Ok(self.inner.get()?.rt()?.io_backend().name())
    }

    /// `time.monotonic()`, the loop's clock.
    #[staticmethod]
    fn time() -> f64 {
        monotonic()
    }

    /// One iteration of `run_forever`: poll (not waiting if the loop is
    /// stopping), fire due timers, run what was ready. Raises what a
    /// callback or signal handler raised that must stop the loop
    /// (`KeyboardInterrupt`, `SystemExit`).
    fn _run_once(slf: &Bound<'_, Self>) -> PyResult<()> {
        CoreLoop::iterate(slf, true)
    }

    /// asyncio's `create_task`: `asyncio.Task(coro, loop=self, name=name,
    /// context=context)` with no Python frame of corio's; with a task
    /// factory set, or in debug mode (the creation traceback is trimmed),
    /// asyncio's own `BaseEventLoop.create_task` does it.
    #[pyo3(signature = (coro, *, name = None, context = None))]
    fn create_task<'py>(
        slf: &Bound<'py, Self>,
        coro: &Bound<'py, PyAny>,
        name: Option<&Bound<'py, PyAny>>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        slf.get().inner.get()?.rt()?;
        let factory = slf.getattr(intern!(py, "_task_factory"))?;
        let plain = factory.is_none() && !slf.get().debug();
        if plain && name.is_none() && context.is_none() {
            return task_type(py)?.call((coro,), Some(&loop_kwargs(slf)?));
        }
        let kwargs = PyDict::new(py);
        if let Some(name) = name {
            kwargs.set_item(intern!(py, "name"), name)?;
        }
        if let Some(context) = context {
            kwargs.set_item(intern!(py, "context"), context)?;
        }
        if !plain {
            let base = py
                .import("asyncio")?
                .getattr(intern!(py, "BaseEventLoop"))?;
            return base
                .getattr(intern!(py, "create_task"))?
                .call((slf, coro), Some(&kwargs));
        }
        kwargs.set_item(intern!(py, "loop"), slf)?;
        task_type(py)?.call((coro,), Some(&kwargs))
    }

    /// asyncio's `create_future`: `asyncio.Future(loop=self)`, with no
    /// Python frame.
    fn create_future<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        future_type(slf.py())?.call((), Some(&loop_kwargs(slf)?))
    }

    /// `run_forever`'s loop, in Rust: iterations until `stop()` (asyncio's
    /// `while True: _run_once(); if _stopping: break`), set up once.
    fn _core_run_forever(slf: &Bound<'_, Self>) -> PyResult<()> {
        CoreLoop::iterate(slf, false)
    }

    fn _core_get_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    fn _core_set_stopping(&self, stopping: bool) {
        self.stopping.store(stopping, Ordering::Relaxed);
    }

    fn _core_get_debug(&self) -> bool {
        self.debug()
    }

    fn _core_set_debug(&self, enabled: bool) {
        self.debug.store(enabled, Ordering::Relaxed);
    }

    /// Puts an asyncio `Handle` on the ready queue (debug mode, signals).
    fn _core_call_soon(&self, handle: Py<PyAny>) -> PyResult<()> {
        self.inner.get()?.rt()?.call_soon_raw(runnable(handle));
        Ok(())
    }

    /// Runs an asyncio `TimerHandle` at `when` (debug mode).
    fn _core_call_at(&self, when: f64, handle: Py<PyAny>) -> PyResult<()> {
        let inner = self.inner.get()?;
        let rt = inner.rt()?;
        let key = handle.as_ptr() as usize;
        let id = rt.call_at_raw(inner.deadline(when), timer_runnable(handle));
        remember_timer(key, id);
        Ok(())
    }

    /// Drops a cancelled asyncio `TimerHandle` at once (asyncio leaves it
    /// until it fires).
    fn _core_cancel_timer(&self, handle: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Some(id) = forget_timer(handle.as_ptr() as usize) {
            self.cancel_timer(id);
        }
        Ok(())
    }

    fn _core_add_reader(&self, fd: RawFd, handle: Py<PyAny>) -> PyResult<()> {
        self.inner.get()?.watch(fd, handle, true)
    }

    fn _core_add_writer(&self, fd: RawFd, handle: Py<PyAny>) -> PyResult<()> {
        self.inner.get()?.watch(fd, handle, false)
    }

    fn _core_remove_reader(&self, fd: RawFd) -> PyResult<bool> {
        self.inner.get()?.unwatch(fd, true)
    }

    fn _core_remove_writer(&self, fd: RawFd) -> PyResult<bool> {
        self.inner.get()?.unwatch(fd, false)
    }

    /// The handle other threads use.
    fn _core_remote(&self) -> PyResult<RemoteLoop> {
        Ok(RemoteLoop {
            handle: self.inner.get()?.rt()?.handle(),
        })
    }

    /// Closes the loop: pending callbacks, timers and watches are dropped.
    fn _core_close(&self, py: Python<'_>) -> PyResult<()> {
        self.bound_call_soon.retire(py);
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

    fn _core_is_closed(&self) -> PyResult<bool> {
        Ok(self
            .inner
            .get()?
            .rt
            .try_borrow()
            .is_ok_and(|rt| rt.is_none()))
    }
}

/// `asyncio.futures.Future` as it is now (read at each call, as asyncio's
/// `create_future` does, so that a patched module attribute is honoured).
fn future_type(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static FUTURES: pyo3::sync::PyOnceLock<Py<PyModule>> = pyo3::sync::PyOnceLock::new();
    module_attr(py, &FUTURES, "asyncio.futures", intern!(py, "Future"))
}

/// `asyncio.tasks.Task` as it is now (as `future_type`, for `create_task`).
fn task_type(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static TASKS: pyo3::sync::PyOnceLock<Py<PyModule>> = pyo3::sync::PyOnceLock::new();
    module_attr(py, &TASKS, "asyncio.tasks", intern!(py, "Task"))
}

/// `module.name`, the module imported once into `cell`, the attribute read
/// at each call.
fn module_attr<'py>(
    py: Python<'py>,
    cell: &'static pyo3::sync::PyOnceLock<Py<PyModule>>,
    module: &str,
    name: &Bound<'py, pyo3::types::PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let module = cell.get_or_try_init(py, || Ok::<_, PyErr>(py.import(module)?.unbind()))?;
    module.bind(py).getattr(name)
}

thread_local! {
    /// The corio loop running an iteration on this thread (borrowed: set
    /// only while `_run_once` holds it), for extensions' tasks (`interop`).
    static RUNNING: std::cell::Cell<*mut pyo3::ffi::PyObject> =
        const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Marks `_run_once`'s loop as this thread's running one, until dropped.
struct RunningGuard(*mut pyo3::ffi::PyObject);

impl RunningGuard {
    fn enter(slf: &Bound<'_, CoreLoop>) -> RunningGuard {
        RunningGuard(RUNNING.with(|r| r.replace(slf.as_ptr())))
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(self.0));
    }
}

/// `{"loop": slf}`, the keywords of `Future(loop=...)` and `Task(...,
/// loop=...)`: while the loop runs (`run_forever`, or one `_run_once`), one
/// dictionary serves every call (their `__init__` only reads it); otherwise
/// a new one.
fn loop_kwargs<'py>(slf: &Bound<'py, CoreLoop>) -> PyResult<Bound<'py, PyDict>> {
    let py = slf.py();
    if let Ok(inner) = slf.get().inner.get() {
        if let Some(kwargs) = inner.loop_kwargs.borrow().as_ref() {
            return Ok(kwargs.bind(py).clone());
        }
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "loop"), slf)?;
    Ok(kwargs)
}

/// Keeps `Inner::loop_kwargs` set until dropped (then the loop no longer
/// refers to itself through it).
struct LoopKwargs<'a>(&'a Inner);

impl LoopKwargs<'_> {
    fn enter<'a>(slf: &Bound<'_, CoreLoop>, inner: &'a Inner) -> PyResult<LoopKwargs<'a>> {
        let kwargs = loop_kwargs(slf)?;
        *inner.loop_kwargs.borrow_mut() = Some(kwargs.unbind());
        Ok(LoopKwargs(inner))
    }
}

impl Drop for LoopKwargs<'_> {
    fn drop(&mut self) {
        let kwargs = self.0.loop_kwargs.borrow_mut().take();
        drop(kwargs);
    }
}

/// The corio loop running an iteration on this thread, if any.
pub(crate) fn running_core_loop(py: Python<'_>) -> Option<Bound<'_, CoreLoop>> {
    let ptr = RUNNING.with(|r| r.get());
    if ptr.is_null() {
        return None;
    }
    // SAFETY: set by a `RunningGuard` whose `_run_once` call holds the
    // loop alive until the guard drops, which resets the pointer.
    let obj = unsafe { Bound::from_borrowed_ptr(py, ptr) };
    obj.cast_into::<CoreLoop>().ok()
}

impl CoreLoop {
    /// asyncio's `call_soon`: runs `callback(*args)` in `context` (a copy
    /// of the current one if not given) at the next iteration. Python calls
    /// it through the raw method in `fast_call`.
    pub(crate) fn call_soon<'py>(
        slf: &Bound<'py, Self>,
        callback: Bound<'py, PyAny>,
        args: Bound<'py, PyTuple>,
        context: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let inner = slf.get().inner.get()?;
        if slf.get().debug() {
            return slf.call_method1(intern!(py, "_call_soon_debug"), (callback, args, context));
        }
        let rt = inner.rt()?;
        let handle = new_handle(
            py,
            callback.unbind(),
            args.unbind(),
            context.map(Bound::unbind),
            slf.clone().into_any().unbind(),
        )?;
        rt.call_soon_raw(crate::handle::runnable(&handle));
        Ok(handle.into_any())
    }

    /// asyncio's `call_at`: runs `callback(*args)` at `when` (`loop.time()`
    /// seconds; `when()` returns it as given). Python calls it through the
    /// raw method in `fast_call`.
    pub(crate) fn call_at<'py>(
        slf: &Bound<'py, Self>,
        when: Bound<'py, PyAny>,
        callback: Bound<'py, PyAny>,
        args: Bound<'py, PyTuple>,
        context: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if when.is_none() {
            return Err(PyTypeError::new_err("when cannot be None"));
        }
        let secs: f64 = when.extract()?;
        CoreLoop::schedule(slf, (Some(when.unbind()), secs), callback, args, context)
    }

    /// asyncio's `call_later`: `call_at(loop.time() + delay, ...)` (through
    /// the raw method in `fast_call`).
    pub(crate) fn call_later<'py>(
        slf: &Bound<'py, Self>,
        delay: Bound<'py, PyAny>,
        callback: Bound<'py, PyAny>,
        args: Bound<'py, PyTuple>,
        context: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if delay.is_none() {
            return Err(PyTypeError::new_err("delay must not be None"));
        }
        let secs = monotonic() + delay.extract::<f64>()?;
        CoreLoop::schedule(slf, (None, secs), callback, args, context)
    }

    /// Runs one iteration (`once`) or iterations until `stop()`, set up
    /// once for all of them: each polls (not waiting while the loop is
    /// stopping), fires due timers and runs what was ready. The debug flag
    /// is re-read each iteration (a callback may change it). Raises what a
    /// callback or signal handler raised that must stop the loop
    /// (`KeyboardInterrupt`, `SystemExit`).
    fn iterate(slf: &Bound<'_, Self>, once: bool) -> PyResult<()> {
        let this = slf.get();
        let inner = this.inner.get()?;
        let rt = inner.rt()?;
        let _busy = this.inner.enter_busy()?;
        let _running = RunningGuard::enter(slf);
        let _kwargs = LoopKwargs::enter(slf, inner)?;
        let mut debug = this.debug();
        let scope = debug_scope(debug);
        let mut first = true;
        rt.run_iterations(|| {
            if !first {
                if let Some(err) = take_pending() {
                    return ControlFlow::Break(Err(err));
                }
                if once || this.stopping.load(Ordering::Relaxed) {
                    return ControlFlow::Break(Ok(()));
                }
            }
            first = false;
            if this.debug() != debug {
                debug = !debug;
                scope.set(debug);
            }
            ControlFlow::Continue(this.stopping.load(Ordering::Relaxed))
        })
    }

    /// The slot for the bound `call_soon` (module `loop_method`).
    pub(crate) fn bound_call_soon(&self) -> &GilSlot {
        &self.bound_call_soon
    }

    /// asyncio's debug mode (`get_debug`, a raw method in `fast_call`).
    pub(crate) fn debug(&self) -> bool {
        self.debug.load(Ordering::Relaxed)
    }

    /// Files a timer handle for `when` (debug mode: asyncio's own handle,
    /// through the Python loop).
    ///
    /// `when` is the deadline as given (`call_at`), or none when it is the
    /// float `when.1` (`call_later`: made only if `when()` is asked).
    fn schedule<'py>(
        slf: &Bound<'py, Self>,
        when: (Option<Py<PyAny>>, f64),
        callback: Bound<'py, PyAny>,
        args: Bound<'py, PyTuple>,
        context: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let inner = slf.get().inner.get()?;
        if slf.get().debug() {
            let given = match when.0 {
                Some(given) => given,
                None => PyFloat::new(py, when.1).into_any().unbind(),
            };
            return slf.call_method1(
                intern!(py, "_call_at_debug"),
                (given, callback, args, context),
            );
        }
        let rt = inner.rt()?;
        let deadline = inner.deadline(when.1);
        let the_loop = slf.clone().into_any().unbind();
        let handle = new_timer_handle(
            py,
            when,
            callback.unbind(),
            args.unbind(),
            context.map(Bound::unbind),
            the_loop,
        )?;
        let id = rt.call_at_raw(deadline, crate::handle::runnable(handle.as_super()));
        set_pending_timer(&handle, id);
        Ok(handle.into_any())
    }

    /// A level-triggered watch on `fd`, interested in nothing yet (a
    /// transport sets its interest as its state changes).
    pub(crate) fn watch_fd(&self, fd: RawFd) -> PyResult<Watch> {
        self.check_unwatched(fd)?;
        let rt = self.inner.get()?.rt()?;
        Watch::on(&rt, fd, Interest::NONE).map_err(PyErr::from)
    }

    /// `fd` (a connected stream socket) read and written through the
    /// loop's io_uring, where the loop runs streams in completion mode.
    pub(crate) fn completion_socket(&self, fd: RawFd) -> PyResult<Option<CompletionSocket>> {
        self.check_unwatched(fd)?;
        let rt = self.inner.get()?.rt()?;
        CompletionSocket::on(&rt, fd).map_err(PyErr::from)
    }

    fn check_unwatched(&self, fd: RawFd) -> PyResult<()> {
        if self.inner.get()?.fds.borrow().contains_key(&fd) {
            return Err(PyRuntimeError::new_err(format!(
                "file descriptor {fd} is watched by add_reader/add_writer: remove it first"
            )));
        }
        Ok(())
    }

    /// Spawns a task on the loop (it runs when the loop does).
    pub(crate) fn spawn(
        &self,
        future: impl std::future::Future<Output = ()> + 'static,
    ) -> PyResult<Task<()>> {
        Ok(self.inner.get()?.rt()?.spawn(future))
    }

    /// Spawns a task and polls it once at once (see `Runtime::spawn_eager`).
    pub(crate) fn spawn_eager(
        &self,
        future: impl std::future::Future<Output = ()> + 'static,
    ) -> PyResult<Task<()>> {
        Ok(self.inner.get()?.rt()?.spawn_eager(future))
    }

    /// Takes a timer out of the wheel, if this thread may touch the loop
    /// and it is open (a timer cancelled from another thread just does not
    /// run).
    pub(crate) fn cancel_timer(&self, id: TimerId) {
        let Ok(inner) = self.inner.get() else {
            return;
        };
        let removed = inner.rt().map(|rt| rt.cancel_timer(id));
        drop(removed);
    }
}
