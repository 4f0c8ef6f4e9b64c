//! `Handle` and `TimerHandle`: what `call_soon`, `call_later` and `call_at`
//! return outside debug mode, as Rust objects. The ready queue and the
//! timer wheel hold the handle itself (one reference, no wrapper); running
//! it enters its context and calls the callback with no Python frame of
//! corio's in between.
//!
//! They have asyncio's handle API (`cancel`, `cancelled`, `get_context`,
//! `when`, and the private `_callback`, `_args`, `_cancelled`, `_context`,
//! `_loop`, `_when`, `_scheduled` that libraries and tests read) but are not
//! subclasses of `asyncio.Handle` (a Python class a Rust class cannot
//! extend), as uvloop's are not. In debug mode the loop makes asyncio's own
//! handles instead (creation tracebacks, slow-callback timing).

use corio::runtime::{RawRunnable, RawRunnableVTable, TimerId};
use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyTuple};
use pyo3::{ffi, intern};

use crate::core_loop::CoreLoop;

/// A callback scheduled by `call_soon` (or, with a deadline, a timer).
#[pyclass(module = "corio._corio", subclass, weakref)]
pub struct Handle {
    callback: Option<Py<PyAny>>,
    args: Option<Py<PyTuple>>,
    context: Option<Py<PyAny>>,
    the_loop: Option<Py<PyAny>>,
    cancelled: bool,
    timer: Option<Timer>,
}

/// What a `TimerHandle` adds: its deadline as the caller gave it, and the
/// wheel entry while it is pending.
struct Timer {
    /// The deadline as `call_at` was given it; none for `call_later`,
    /// whose deadline is the float `when_secs` (made on demand).
    when: Option<Py<PyAny>>,
    when_secs: f64,
    pending: Option<TimerId>,
}

/// A callback scheduled by `call_at` / `call_later`.
#[pyclass(module = "corio._corio", extends = Handle)]
pub struct TimerHandle;

/// The context for a handle: the one given, else a copy of the current
/// one (as asyncio's `Handle` does).
fn context_or_current(py: Python<'_>, context: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    match context {
        Some(context) if !context.is_none(py) => Ok(context),
        _ => {
            // SAFETY: the GIL is held; the call returns a new reference or
            // NULL with an exception set.
            let copy = unsafe { ffi::PyContext_CopyCurrent() };
            // SAFETY: as above.
            unsafe { Bound::from_owned_ptr_or_err(py, copy) }.map(Bound::unbind)
        }
    }
}

impl Drop for Handle {
    /// Releases the references directly: a `Py`'s own drop first asks a
    /// thread-local whether the GIL is held (four times per handle).
    fn drop(&mut self) {
        release(self.callback.take());
        release(self.args.take().map(Py::into_any));
        release(self.context.take());
        release(self.the_loop.take());
        release(self.timer.take().and_then(|t| t.when));
    }
}

/// Releases a reference a dropping `Handle` held.
#[inline(always)]
fn release(object: Option<Py<PyAny>>) {
    if let Some(object) = object {
        // SAFETY: a `Handle` is dropped with the GIL held: by its Python
        // object's deallocation, or (never made into one) by the code that
        // made it, which holds the GIL. `into_ptr` hands over the
        // reference that `Py_DECREF` releases.
        unsafe { ffi::Py_DECREF(object.into_ptr()) };
    }
}

impl Handle {
    fn new(
        py: Python<'_>,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        context: Option<Py<PyAny>>,
        the_loop: Py<PyAny>,
        timer: Option<(Option<Py<PyAny>>, f64)>,
    ) -> PyResult<Handle> {
        Ok(Handle {
            callback: Some(callback),
            args: Some(args),
            context: Some(context_or_current(py, context)?),
            the_loop: Some(the_loop),
            cancelled: false,
            timer: timer.map(|(when, when_secs)| Timer {
                when,
                when_secs,
                pending: None,
            }),
        })
    }
}

/// A new `Handle`, for the ready queue.
pub(crate) fn new_handle<'py>(
    py: Python<'py>,
    callback: Py<PyAny>,
    args: Py<PyTuple>,
    context: Option<Py<PyAny>>,
    the_loop: Py<PyAny>,
) -> PyResult<Bound<'py, Handle>> {
    Bound::new(
        py,
        Handle::new(py, callback, args, context, the_loop, None)?,
    )
}

/// A new `TimerHandle` for `when`: the deadline as given (or none: the
/// float `when_secs`) and as seconds.
pub(crate) fn new_timer_handle<'py>(
    py: Python<'py>,
    when: (Option<Py<PyAny>>, f64),
    callback: Py<PyAny>,
    args: Py<PyTuple>,
    context: Option<Py<PyAny>>,
    the_loop: Py<PyAny>,
) -> PyResult<Bound<'py, TimerHandle>> {
    let base = Handle::new(py, callback, args, context, the_loop, Some(when))?;
    let init = PyClassInitializer::from(base).add_subclass(TimerHandle);
    Bound::new(py, init)
}

/// Records the wheel entry of a timer handle just scheduled.
pub(crate) fn set_pending_timer(handle: &Bound<'_, TimerHandle>, id: TimerId) {
    let mut base = handle.as_super().borrow_mut();
    if let Some(timer) = base.timer.as_mut() {
        timer.pending = Some(id);
    }
}

static VTABLE: RawRunnableVTable = RawRunnableVTable::new(run_handle, drop_handle);

/// The queue entry for `handle`: one reference to it.
///
/// Handles are not tracked by Python's garbage collector (no cycle can run
/// through one, see [`let_go`]): a burst of pending timers or a gather of
/// 100k coroutines would otherwise make the collector run more often and
/// walk them, and each handle is 16 bytes smaller.
pub(crate) fn runnable(handle: &Bound<'_, Handle>) -> RawRunnable {
    let data = handle.clone().into_ptr() as *const ();
    // SAFETY: `data` is one owned reference to a `Handle`; `run_handle` and
    // `drop_handle` each release exactly that reference, with the GIL, on
    // the loop thread (the only thread that runs or drops queue entries).
    unsafe { RawRunnable::new(data, &VTABLE) }
}

unsafe fn run_handle(data: *const ()) {
    // SAFETY: handles run only inside `CoreLoop._run_once` (the loop's
    // `run_once` runs the ready queue there), which holds the GIL while it
    // runs callbacks: no `attach` (and its thread-local bookkeeping) per
    // callback.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: `data` is the owned reference `runnable` stored, to an
    // object of type `Handle` (or a subclass).
    let handle = unsafe { Bound::from_owned_ptr(py, data as *mut ffi::PyObject) };
    // SAFETY: as above: a `Handle`.
    let handle = unsafe { handle.cast_into_unchecked::<Handle>() };
    run(py, &handle);
    let_go(&handle);
}

unsafe fn drop_handle(data: *const ()) {
    Python::attach(|py| {
        // SAFETY: as in `run_handle`: the one owned reference, released.
        let handle = unsafe { Bound::from_owned_ptr(py, data as *mut ffi::PyObject) };
        // SAFETY: as in `run_handle`: a `Handle`.
        let_go(unsafe { handle.cast_unchecked::<Handle>() });
        drop(handle);
    });
}

/// The loop is letting go of its reference (the handle ran, or left the
/// queue cancelled, or its loop closed): if anyone else still holds the
/// handle, it lets go of its callback, arguments, context and loop, so that
/// no reference cycle runs through it (it is not tracked by the garbage
/// collector). asyncio's handles keep them; `cancel()` already drops the
/// callback and arguments in both.
fn let_go(handle: &Bound<'_, Handle>) {
    // SAFETY: the GIL is held and `handle` is a live object.
    if unsafe { ffi::Py_REFCNT(handle.as_ptr()) } <= 1 {
        return; // freed just after: its own drop releases everything
    }
    let held = match handle.try_borrow_mut() {
        Ok(mut this) => (
            this.callback.take(),
            this.args.take(),
            this.context.take(),
            this.the_loop.take(),
        ),
        Err(_) => return,
    };
    // Released after the borrow: their finalizers may touch the handle.
    drop(held);
}

/// Runs the handle unless it was cancelled: its callback, in its context.
fn run(py: Python<'_>, handle: &Bound<'_, Handle>) {
    let Ok(mut this) = handle.try_borrow_mut() else {
        return;
    };
    if let Some(timer) = this.timer.as_mut() {
        timer.pending = None;
    }
    if this.cancelled {
        return;
    }
    // Bound, not Py: dropping a `Py` asks a thread-local whether the GIL
    // is held; a `Bound` knows.
    let (Some(callback), Some(args), Some(context)) = (
        this.callback.as_ref().map(|c| c.bind(py).clone()),
        this.args.as_ref().map(|a| a.bind(py).clone()),
        this.context.as_ref().map(|c| c.bind(py).clone()),
    ) else {
        return;
    };
    // The callback may cancel or inspect its own handle.
    drop(this);
    if let Err(err) = call_in_context(py, &callback, &args, &context) {
        report(py, handle, callback.unbind(), args.unbind(), err);
    }
}

/// `context.run(callback, *args)`, without the method call.
fn call_in_context(
    py: Python<'_>,
    callback: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    context: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: the GIL is held and `context` is a live object; Enter checks
    // its type and fails (with an exception set) if it is not a Context or
    // is already entered.
    if unsafe { ffi::PyContext_Enter(context.as_ptr()) } < 0 {
        return Err(PyErr::fetch(py));
    }
    let result = call(py, callback, args);
    // SAFETY: `context` was entered just above on this thread, and the
    // callback's own enters and exits are balanced by then.
    if unsafe { ffi::PyContext_Exit(context.as_ptr()) } < 0 {
        return Err(PyErr::fetch(py));
    }
    result
}

/// `callback(*args)`: a vectorcall of the tuple's items (no tuple
/// unpacking on the way in).
fn call(py: Python<'_>, callback: &Bound<'_, PyAny>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
    let tuple = args.as_ptr().cast::<ffi::PyTupleObject>();
    // SAFETY: the GIL is held and `args` is a live tuple: its items are
    // `len` borrowed pointers, alive while `args` is; the call returns a
    // new reference or NULL with an exception set.
    let result = unsafe {
        ffi::PyObject_Vectorcall(
            callback.as_ptr(),
            (*tuple).ob_item.as_ptr(),
            args.len(),
            std::ptr::null_mut(),
        )
    };
    // SAFETY: as above.
    unsafe { Bound::from_owned_ptr_or_err(py, result) }.map(drop)
}

/// What asyncio's `Handle._run` does with an exception: `SystemExit` and
/// `KeyboardInterrupt` stop the loop and propagate; anything else goes to
/// the loop's exception handler, and the loop goes on.
fn report(
    py: Python<'_>,
    handle: &Bound<'_, Handle>,
    callback: Py<PyAny>,
    args: Py<PyTuple>,
    err: PyErr,
) {
    if crate::gil::must_propagate(py, &err) {
        crate::gil::set_pending(err);
        return;
    }
    let the_loop = handle.borrow().the_loop.as_ref().map(|l| l.clone_ref(py));
    let Some(the_loop) = the_loop else {
        return;
    };
    let reported = the_loop.bind(py).call_method1(
        intern!(py, "_report_callback_error"),
        (handle, callback, args, err.into_value(py)),
    );
    if let Err(err) = reported {
        crate::gil::set_pending(err);
    }
}

#[pymethods]
impl Handle {
    /// Cancels the callback (a timer leaves the wheel at once).
    fn cancel(slf: &Bound<'_, Self>) {
        let py = slf.py();
        let (callback, args, pending, the_loop) = {
            let Ok(mut this) = slf.try_borrow_mut() else {
                return;
            };
            if this.cancelled {
                return;
            }
            this.cancelled = true;
            let pending = this.timer.as_mut().and_then(|t| t.pending.take());
            let the_loop = this.the_loop.as_ref().map(|l| l.clone_ref(py));
            // asyncio drops the callback and its arguments to break cycles.
            (this.callback.take(), this.args.take(), pending, the_loop)
        };
        if let (Some(id), Some(the_loop)) = (pending, the_loop) {
            if let Ok(core) = the_loop.bind(py).cast::<CoreLoop>() {
                core.get().cancel_timer(id);
            }
        }
        // Released after the borrow: their finalizers may touch the handle.
        drop((callback, args));
    }

    /// Whether `cancel()` was called.
    fn cancelled(&self) -> bool {
        self.cancelled
    }

    /// The `contextvars.Context` the callback runs in.
    fn get_context(&self, py: Python<'_>) -> Py<PyAny> {
        self.context
            .as_ref()
            .map_or_else(|| py.None(), |c| c.clone_ref(py))
    }

    /// Runs the callback now, as the loop would (asyncio's `Handle._run`).
    fn _run(slf: &Bound<'_, Self>) {
        run(slf.py(), slf);
    }

    #[getter]
    fn _callback(&self, py: Python<'_>) -> Py<PyAny> {
        self.callback
            .as_ref()
            .map_or_else(|| py.None(), |c| c.clone_ref(py))
    }

    #[getter]
    fn _args(&self, py: Python<'_>) -> Py<PyAny> {
        self.args
            .as_ref()
            .map_or_else(|| py.None(), |a| a.clone_ref(py).into_any())
    }

    #[getter]
    fn _cancelled(&self) -> bool {
        self.cancelled
    }

    #[getter]
    fn _context(&self, py: Python<'_>) -> Py<PyAny> {
        self.get_context(py)
    }

    #[getter]
    fn _loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.the_loop
            .as_ref()
            .map_or_else(|| py.None(), |l| l.clone_ref(py))
    }

    /// Creation tracebacks are kept in debug mode only, by asyncio's
    /// handles.
    #[getter]
    fn _source_traceback(&self, py: Python<'_>) -> Py<PyAny> {
        py.None()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let repr = py.import("corio._handles")?.getattr("handle_repr")?;
        Ok(repr.call1((slf,))?.unbind())
    }
}

#[pymethods]
impl TimerHandle {
    /// The deadline, in `loop.time()` seconds, exactly as given.
    fn when(slf: PyRef<'_, Self>, py: Python<'_>) -> Py<PyAny> {
        slf.as_super().timer.as_ref().map_or_else(
            || py.None(),
            |t| match &t.when {
                Some(given) => given.clone_ref(py),
                None => PyFloat::new(py, t.when_secs).into_any().unbind(),
            },
        )
    }

    #[getter]
    fn _when(slf: PyRef<'_, Self>, py: Python<'_>) -> Py<PyAny> {
        TimerHandle::when(slf, py)
    }

    /// Whether the timer is still waiting in the wheel.
    #[getter]
    fn _scheduled(slf: PyRef<'_, Self>) -> bool {
        slf.as_super()
            .timer
            .as_ref()
            .is_some_and(|t| t.pending.is_some())
    }

    fn __hash__(slf: PyRef<'_, Self>) -> u64 {
        let secs = slf.as_super().timer.as_ref().map_or(0.0, |t| t.when_secs);
        secs.to_bits()
    }

    /// Ordered by deadline, as asyncio's timer handles are; equal when the
    /// deadline, callback, arguments and cancellation agree.
    fn __richcmp__(
        slf: PyRef<'_, Self>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<TimerHandle>() else {
            return Ok(py.NotImplemented());
        };
        let other = other.borrow();
        let (a, b) = (slf.as_super(), other.as_super());
        let when = |h: &Handle| h.timer.as_ref().map_or(0.0, |t| t.when_secs);
        let same = || -> PyResult<bool> {
            Ok(when(a) == when(b)
                && a.cancelled == b.cancelled
                && a._callback(py).bind(py).eq(b._callback(py))?
                && a._args(py).bind(py).eq(b._args(py))?)
        };
        let result = match op {
            CompareOp::Lt => when(a) < when(b),
            CompareOp::Gt => when(a) > when(b),
            CompareOp::Le => when(a) < when(b) || same()?,
            CompareOp::Ge => when(a) > when(b) || same()?,
            CompareOp::Eq => same()?,
            CompareOp::Ne => !same()?,
        };
        Ok(result.into_pyobject(py)?.to_owned().into_any().unbind())
    }
}
