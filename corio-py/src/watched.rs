//! A transport's readiness watch, shared by every native transport
//! (`StreamIO` for stream sockets and pipes, `DatagramIO`): the watch and
//! the interest epoll has, the two loop tasks that call the transport when
//! its descriptor is readable or writable, and the strong reference that
//! keeps a watched transport alive.
//!
//! A stream socket on a loop whose io_uring reads streams in completion
//! mode is not watched but handed to the ring ([`CompletionSocket`]): the
//! same two tasks then wait for received bytes and for finished sends
//! instead of readiness, and the transport reads and writes through the
//! ring (see `stream_state::State::read`).

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use corio::io::{CompletionSocket, Interest, Watch};
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
    /// In completion mode, the socket's requests (and no `watch`).
    ring: Option<Rc<Ring>>,
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
        if let Some(ring) = &self.ring {
            ring.socket.close();
        }
    }
}

/// A socket in completion mode, shared with the transport's two tasks: what
/// they wait for when the interest lacks their direction.
pub(crate) struct Ring {
    pub(crate) socket: CompletionSocket,
    /// The interest the transport has now (its tasks wait while theirs is
    /// missing: a paused reader queues no receive).
    interest: Cell<Interest>,
    /// The reading task's and the writing task's wakers, while they wait
    /// for interest.
    waiting: [Cell<Option<Waker>>; 2],
}

impl Ring {
    fn wants(interest: Interest, read: bool) -> bool {
        if read {
            interest.is_readable()
        } else {
            interest.is_writable()
        }
    }

    /// Ready while the transport wants `read` (or writing).
    fn poll_wanted(&self, cx: &mut Context<'_>, read: bool) -> Poll<()> {
        if Ring::wants(self.interest.get(), read) {
            return Poll::Ready(());
        }
        self.waiting[usize::from(!read)].set(Some(cx.waker().clone()));
        Poll::Pending
    }

    fn set_interest(&self, want: Interest) {
        let had = self.interest.replace(want);
        for read in [true, false] {
            if Ring::wants(want, read) && !Ring::wants(had, read) {
                if let Some(waker) = self.waiting[usize::from(!read)].take() {
                    waker.wake();
                }
            }
        }
    }

    /// Waits for received bytes (`read`) or a finished send; whether it
    /// had to wait (if not, the last call left the condition standing).
    async fn ready(&self, read: bool) -> bool {
        let mut waited = false;
        poll_fn(|cx| {
            let ready = if read {
                self.socket.poll_read_ready(cx)
            } else {
                self.socket.poll_write_progress(cx)
            };
            waited |= ready.is_pending();
            ready
        })
        .await;
        waited
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
        Ok(Watched::with(fd, Some(core.watch_fd(fd)?), None))
    }

    /// A connected stream socket: handed to the loop's ring where it reads
    /// streams in completion mode, watched otherwise.
    pub(crate) fn stream_socket(core: &CoreLoop, fd: RawFd) -> PyResult<Watched> {
        match core.completion_socket(fd)? {
            Some(socket) => Ok(Watched::with(
                fd,
                None,
                Some(Rc::new(Ring {
                    socket,
                    interest: Cell::new(Interest::NONE),
                    waiting: [Cell::new(None), Cell::new(None)],
                })),
            )),
            None => Watched::new(core, fd),
        }
    }

    fn with(fd: RawFd, watch: Option<Watch>, ring: Option<Rc<Ring>>) -> Watched {
        Watched {
            fd,
            watch: RefCell::new(watch.map(Rc::new)),
            ring,
            tasks: RefCell::new(Vec::new()),
            interest: Cell::new(Interest::NONE),
            me: RefCell::new(None),
            keepalive: RefCell::new(None),
        }
    }

    /// The socket's requests, in completion mode.
    pub(crate) fn ring(&self) -> Option<&CompletionSocket> {
        self.ring.as_deref().map(|ring| &ring.socket)
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
        if let Some(ring) = &self.ring {
            ring.set_interest(want);
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
        if let Some(ring) = &self.ring {
            // Before the owner closes the descriptor.
            ring.socket.close();
        }
        self.interest.set(Interest::NONE);
        let keepalive = self.keepalive.borrow_mut().take();
        drop(keepalive);
    }
}

/// Starts the two tasks that call `slf` when its descriptor is readable or
/// writable. Called once, right after construction.
pub(crate) fn spawn_ready_tasks<T: OnReady>(slf: &Bound<'_, T>, core: &CoreLoop) -> PyResult<()> {
    let watched = slf.get().watched()?;
    let watch = watched.watch.borrow().clone();
    if watch.is_none() && watched.ring.is_none() {
        return Ok(());
    }
    *watched.me.borrow_mut() = Some(PyWeakrefReference::new(slf.as_any())?.unbind());
    let mut tasks = watched.tasks.borrow_mut();
    for read in [true, false] {
        // Weak: an abandoned transport must stay collectable (its
        // `unclosed transport` warning, its descriptor closed).
        let io = PyWeakrefReference::new(slf.as_any())?.unbind();
        let watch = watch.clone();
        let ring = watched.ring.clone();
        tasks.push(core.spawn(async move {
            loop {
                if let Some(ring) = &ring {
                    poll_fn(|cx| ring.poll_wanted(cx, read)).await;
                    // Ready without waiting: the last call left bytes (or
                    // room) it did not take; once per loop iteration, as
                    // a level-triggered watch reports it.
                    if !ring.ready(read).await {
                        corio::task::yield_now().await;
                    }
                } else if let Some(watch) = &watch {
                    if read {
                        watch.readable().await;
                    } else {
                        watch.writable().await;
                    }
                }
                // SAFETY: this task is polled only by the loop's
                // `run_once`, inside `CoreLoop._run_once`, which holds the
                // GIL while it runs tasks (as for handles, handle.rs): no
                // `attach` and its thread-local bookkeeping per event.
                let py = unsafe { Python::assume_attached() };
                let Some(io) = io.bind(py).upgrade() else {
                    return;
                };
                let Ok(io) = io.cast_into::<T>() else {
                    return;
                };
                let result = if read {
                    T::read_ready(&io)
                } else {
                    T::write_ready(&io)
                };
                if let Err(err) = result {
                    crate::gil::report_from_task(py, err);
                }
            }
        })?);
    }
    Ok(())
}
