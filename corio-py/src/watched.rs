//! A transport's readiness watch, shared by every native transport
//! (`StreamIO` for stream sockets and pipes, `DatagramIO`): the watch and
//! the interest epoll has, the two loop tasks that call the transport when
//! its descriptor is readable or writable, and the strong reference that
//! keeps a watched transport alive.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;

use corio::io::{Interest, Watch};
use corio::Task;
use pyo3::prelude::*;
use pyo3::pyclass::boolean_struct::True;
use pyo3::types::PyWeakrefReference;
use pyo3::PyClass;

use crate::core_loop::CoreLoop;

/// One descriptor watched for a transport (the loop thread only).
pub(crate) struct Watched {
    pub(crate) fd: RawFd,
    watch: RefCell<Option<Rc<Watch>>>,
    tasks: RefCell<Vec<Task<()>>>,
    /// The interest the watch has now.
    interest: Cell<Interest>,
    /// The transport, weakly (set by `spawn_ready_tasks`).
    me: RefCell<Option<Py<PyWeakrefReference>>>,
    /// The transport, strongly, while its descriptor is watched for
    /// anything: the loop keeps a reading or writing transport alive, as
    /// asyncio's selector does through its handles (a stream handler's task
    /// waits on a future only the transport's protocol holds). Not visible
    /// to the garbage collector, on purpose: it is the loop's root.
    keepalive: RefCell<Option<Py<PyAny>>>,
}

impl Drop for Watched {
    /// A transport collected without being closed: its tasks end too.
    fn drop(&mut self) {
        for task in self.tasks.get_mut().drain(..) {
            task.cancel();
        }
    }
}

/// A transport the loop calls when its descriptor is ready.
pub(crate) trait OnReady: PyClass<Frozen = True> + Sync {
    fn watched(&self) -> PyResult<&Watched>;
    fn read_ready(slf: &Bound<'_, Self>) -> PyResult<()>;
    fn write_ready(slf: &Bound<'_, Self>) -> PyResult<()>;
}

impl Watched {
    /// A watch on `fd`, interested in nothing yet.
    pub(crate) fn new(core: &CoreLoop, fd: RawFd) -> PyResult<Watched> {
        Ok(Watched {
            fd,
            watch: RefCell::new(Some(Rc::new(core.watch_fd(fd)?))),
            tasks: RefCell::new(Vec::new()),
            interest: Cell::new(Interest::NONE),
            me: RefCell::new(None),
            keepalive: RefCell::new(None),
        })
    }

    /// Makes the watch's interest `want` (one `epoll_ctl` when it changes,
    /// none otherwise), and holds the transport while it wants anything.
    pub(crate) fn set_interest(&self, want: Interest) -> PyResult<()> {
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

    /// Stops watching: the tasks end, the registration goes, the loop
    /// lets go of the transport.
    pub(crate) fn unwatch(&self) {
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        for task in &tasks {
            task.cancel();
        }
        drop(tasks);
        let watch = self.watch.borrow_mut().take();
        drop(watch);
        self.interest.set(Interest::NONE);
        let keepalive = self.keepalive.borrow_mut().take();
        drop(keepalive);
    }
}

/// Starts the two tasks that call `slf` when its descriptor is readable or
/// writable. Called once, right after construction.
pub(crate) fn spawn_ready_tasks<T: OnReady>(slf: &Bound<'_, T>, core: &CoreLoop) -> PyResult<()> {
    let watched = slf.get().watched()?;
    let Some(watch) = watched.watch.borrow().clone() else {
        return Ok(());
    };
    *watched.me.borrow_mut() = Some(PyWeakrefReference::new(slf.as_any())?.unbind());
    let mut tasks = watched.tasks.borrow_mut();
    for read in [true, false] {
        // Weak: an abandoned transport must stay collectable (its
        // `unclosed transport` warning, its descriptor closed).
        let io = PyWeakrefReference::new(slf.as_any())?.unbind();
        let watch = watch.clone();
        tasks.push(core.spawn(async move {
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
                    let Ok(io) = io.cast_into::<T>() else {
                        return false;
                    };
                    let result = if read {
                        T::read_ready(&io)
                    } else {
                        T::write_ready(&io)
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
