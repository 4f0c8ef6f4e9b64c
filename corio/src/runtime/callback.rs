//! `call_soon`, `call_later`, `call_at`: plain callbacks on the ready queue,
//! first-class runnables beside tasks (asyncio's `Handle`s).

use std::cell::Cell;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::context;
use super::core::Core;
use super::runnable::{Kind, RawRunnable, RawRunnableVTable};
use super::task::panic_message;
use super::timer::{TimerAction, TimerKey};
use super::LoopError;

/// A callback the loop can run once or cancel.
pub(crate) trait Callback {
    /// Runs the callback unless it was cancelled.
    fn run(&self);
    /// Drops the callback without running it.
    fn cancel(&self);
    fn is_cancelled(&self) -> bool;
    fn location(&self) -> &'static Location<'static>;
    /// This reference as a ready-queue entry.
    fn into_runnable(self: Rc<Self>) -> RawRunnable;
}

struct CallbackCell<F> {
    f: Cell<Option<F>>,
    cancelled: Cell<bool>,
    location: &'static Location<'static>,
}

impl<F: FnOnce()> Callback for CallbackCell<F> {
    fn run(&self) {
        if let Some(f) = self.f.take() {
            f();
        }
    }
    fn cancel(&self) {
        self.cancelled.set(true);
        drop(self.f.take());
    }
    fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }
    fn location(&self) -> &'static Location<'static> {
        self.location
    }
    fn into_runnable(self: Rc<Self>) -> RawRunnable {
        let vtable = &RawRunnableVTable {
            run: run_call::<F>,
            drop: drop_call::<F>,
            kind: Kind::Call {
                location: call_location::<F>,
            },
        };
        // SAFETY: `data` is one reference of an `Rc<CallbackCell<F>>`, which
        // each of the vtable's functions takes back once.
        unsafe { RawRunnable::with_vtable(Rc::into_raw(self) as *const (), vtable) }
    }
}

/// Runs a queued callback unless it was cancelled; a panic is reported
/// (naming where the callback was scheduled) and the loop carries on, as
/// asyncio logs a callback's exception.
///
/// # Safety
/// `data` came from `Rc::into_raw` of an `Rc<CallbackCell<F>>`, and is
/// taken back once.
unsafe fn run_call<F: FnOnce()>(data: *const ()) {
    // SAFETY: `data` came from `Rc::into_raw` in `into_runnable`; taken back once.
    let cell = unsafe { Rc::from_raw(data as *const CallbackCell<F>) };
    if cell.is_cancelled() {
        return;
    }
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cell.run())) {
        context::report(LoopError::new(format!(
            "callback scheduled at {} panicked: {}",
            cell.location,
            panic_message(&*payload)
        )));
    }
}

/// # Safety
/// As for `run_call`.
unsafe fn drop_call<F>(data: *const ()) {
    // SAFETY: as in `run_call`.
    drop(unsafe { Rc::from_raw(data as *const CallbackCell<F>) });
}

/// # Safety
/// `data` points to a live `CallbackCell<F>`.
unsafe fn call_location<F>(data: *const ()) -> &'static Location<'static> {
    // SAFETY: `data` is a live `CallbackCell<F>` (its entry holds a reference).
    unsafe { (*(data as *const CallbackCell<F>)).location }
}

pub(crate) fn new_callback<F: FnOnce() + 'static>(
    f: F,
    location: &'static Location<'static>,
) -> Rc<dyn Callback> {
    Rc::new(CallbackCell {
        f: Cell::new(Some(f)),
        cancelled: Cell::new(false),
        location,
    })
}

/// A scheduled callback, returned by [`call_soon`], [`call_later`] and
/// [`call_at`] (asyncio's `Handle` / `TimerHandle`).
///
/// Dropping the handle does not cancel the callback; call [`Handle::cancel`].
pub struct Handle {
    callback: Rc<dyn Callback>,
    timer: Option<(u64, TimerKey, Instant)>,
}

impl Handle {
    /// Cancels the callback: it will not run, and its closure is dropped now.
    /// Cancelling a callback that already ran does nothing.
    pub fn cancel(&self) {
        self.callback.cancel();
        if let Some((loop_id, key, _)) = self.timer {
            let action = context::with_loop(loop_id, |core| core.cancel_timer(key));
            drop(action);
        }
    }

    /// Whether [`cancel`](Handle::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.callback.is_cancelled()
    }

    /// When a timed callback is due, on the loop's clock (`None` for `call_soon`).
    pub fn when(&self) -> Option<Instant> {
        self.timer.map(|(_, _, when)| when)
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("location", &self.callback.location())
            .field("cancelled", &self.is_cancelled())
            .field("when", &self.when())
            .finish()
    }
}

/// Schedules `f` to run on the next loop iteration, after the callbacks and
/// tasks already ready (FIFO, like asyncio's `loop.call_soon`).
///
/// Panics if no loop is running on this thread.
#[track_caller]
pub fn call_soon<F: FnOnce() + 'static>(f: F) -> Handle {
    let location = Location::caller();
    context::expect_current("call_soon", |core| call_soon_on(core, f, location))
}

/// `call_soon` on a given loop.
pub(crate) fn call_soon_on<F: FnOnce() + 'static>(
    core: &Core,
    f: F,
    location: &'static Location<'static>,
) -> Handle {
    let callback = new_callback(f, location);
    core.push_callback(callback.clone());
    Handle {
        callback,
        timer: None,
    }
}

/// Schedules `f` to run after `delay` (asyncio's `loop.call_later`).
/// Timers have 1 ms resolution: a callback never runs early and at most
/// about a millisecond late; callbacks due together run in order of their
/// exact deadlines, and in the order they were scheduled on ties.
///
/// Panics if no loop is running on this thread.
#[track_caller]
pub fn call_later<F: FnOnce() + 'static>(delay: Duration, f: F) -> Handle {
    let location = Location::caller();
    context::expect_current("call_later", |core| {
        let (when, ns) = core.deadline_in(delay);
        call_at_on(core, when, ns, f, location)
    })
}

/// Schedules `f` to run at `when`, an instant of the loop's clock
/// ([`crate::time::now`]), like asyncio's `loop.call_at`.
///
/// Panics if no loop is running on this thread.
#[track_caller]
pub fn call_at<F: FnOnce() + 'static>(when: Instant, f: F) -> Handle {
    let location = Location::caller();
    context::expect_current("call_at", |core| {
        call_at_on(core, when, core.ns_at(when), f, location)
    })
}

/// `call_at` on a given loop.
pub(crate) fn call_at_on<F: FnOnce() + 'static>(
    core: &Core,
    when: Instant,
    ns: u64,
    f: F,
    location: &'static Location<'static>,
) -> Handle {
    let callback = new_callback(f, location);
    let key = core.insert_timer(ns, TimerAction::Call(callback.clone()));
    Handle {
        callback,
        timer: Some((core.id, key, when)),
    }
}
