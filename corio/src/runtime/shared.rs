//! The part of a loop other threads may touch: the injection queue and the
//! eventfd that wakes a sleeping loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use super::runnable::ForeignCall;
use super::task::raw::ForeignTask;
use crate::driver::io::Notify;

/// Work handed to the loop from outside its thread.
pub(crate) enum Injected {
    /// A task woken from another thread.
    Wake(ForeignTask),
    /// `call_soon_threadsafe`, or a spawn from another thread.
    Call(ForeignCall),
}

/// Shared between the loop and every handle and waker of it.
pub(crate) struct Shared {
    pub(crate) id: u64,
    injected: Mutex<Vec<Injected>>,
    has_injected: AtomicBool,
    /// Set once an eventfd wake is pending, so a burst of wakes costs one write.
    notified: AtomicBool,
    /// The loop's eventfd; let go when the loop closes, so that a handle
    /// kept after that (a `LoopHandle`, Python's `call_soon_threadsafe`
    /// side) does not keep the descriptor open.
    waker: Mutex<Option<Arc<dyn Notify>>>,
    closed: AtomicBool,
    stop_requested: AtomicBool,
    /// Operations running on other threads that will come back to the loop;
    /// while any are in flight the paused clock does not jump ahead.
    in_flight: AtomicUsize,
    /// The `block_on` future was woken (by its waker, `main_waker.rs`).
    main_woken: AtomicBool,
}

impl Shared {
    pub(crate) fn new(id: u64, waker: Arc<dyn Notify>) -> Shared {
        Shared {
            id,
            injected: Mutex::new(Vec::new()),
            has_injected: AtomicBool::new(false),
            notified: AtomicBool::new(false),
            waker: Mutex::new(Some(waker)),
            closed: AtomicBool::new(false),
            stop_requested: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            main_woken: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Injected>> {
        self.injected.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `item` for the loop and wakes it; gives the item back if the
    /// loop is closed.
    pub(crate) fn inject(&self, item: Injected) -> Result<(), Injected> {
        let mut queue = self.lock();
        if self.closed.load(Ordering::Acquire) {
            return Err(item);
        }
        queue.push(item);
        self.has_injected.store(true, Ordering::Release);
        drop(queue);
        self.notify();
        Ok(())
    }

    /// A task woken off the loop thread. Once the loop is closed the wake is
    /// dropped: the task's future is already gone.
    pub(crate) fn inject_wake(&self, task: ForeignTask) {
        drop(self.inject(Injected::Wake(task)));
    }

    /// Marks the `block_on` future woken (the caller wakes the loop if it
    /// is on another thread).
    #[inline]
    pub(crate) fn wake_main(&self) {
        self.main_woken.store(true, Ordering::Release);
    }

    /// Whether the `block_on` future was woken since it was last polled.
    #[inline]
    pub(crate) fn main_woken(&self) -> bool {
        self.main_woken.load(Ordering::Acquire)
    }

    /// Takes the `block_on` future's wake-up: whether it must be polled.
    #[inline]
    pub(crate) fn take_main_woken(&self) -> bool {
        // A plain load first: the swap is a locked instruction, and most
        // iterations find the main future not woken.
        self.main_woken.load(Ordering::Relaxed) && self.main_woken.swap(false, Ordering::AcqRel)
    }

    /// Wakes the loop if it sleeps in `epoll_wait` (one write per burst).
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            let waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(waker) = waker.as_ref() {
                // An error here means the eventfd counter is saturated,
                // i.e. a wake is already pending: nothing is lost.
                let _ = waker.notify();
            }
        }
    }

    /// The loop saw the eventfd fire; later wakes must write again.
    pub(crate) fn clear_notified(&self) {
        self.notified.store(false, Ordering::Release);
    }

    /// One more operation in flight; returns the handle that ends it.
    pub(crate) fn begin_in_flight(self: &Arc<Self>) -> Arc<Shared> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.clone()
    }

    pub(crate) fn end_in_flight(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether work handed to other threads is still to come back.
    pub(crate) fn has_in_flight(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    pub(crate) fn has_injected(&self) -> bool {
        self.has_injected.load(Ordering::Acquire)
    }

    pub(crate) fn take_injected(&self) -> Vec<Injected> {
        let mut queue = self.lock();
        self.has_injected.store(false, Ordering::Release);
        std::mem::take(&mut *queue)
    }

    /// Refuses new work and returns what was queued.
    pub(crate) fn close(&self) -> Vec<Injected> {
        let mut queue = self.lock();
        self.closed.store(true, Ordering::Release);
        self.has_injected.store(false, Ordering::Release);
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(waker);
        std::mem::take(&mut *queue)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn request_stop(&self) {
        self.stop_requested.store(true, Ordering::Release);
        self.notify();
    }

    /// Whether another thread asked the loop to stop (not clearing it).
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop_requested.load(Ordering::Acquire)
    }

    pub(crate) fn take_stop_request(&self) -> bool {
        // A plain load first: the swap is a locked instruction, and
        // `run_forever` asks after every iteration.
        self.stop_requested() && self.stop_requested.swap(false, Ordering::AcqRel)
    }
}

/// Every live loop by id, for wakes that come from other threads (the slow
/// path; a local wake never looks here). Tasks keep only their loop's id,
/// which saves an `Arc` clone and drop per task.
fn loops() -> &'static Mutex<HashMap<u64, Weak<Shared>>> {
    static LOOPS: OnceLock<Mutex<HashMap<u64, Weak<Shared>>>> = OnceLock::new();
    LOOPS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Makes `shared` reachable by [`lookup`].
pub(crate) fn register(shared: &Arc<Shared>) {
    loops()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(shared.id, Arc::downgrade(shared));
}

/// Forgets a closed loop.
pub(crate) fn unregister(id: u64) {
    loops()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
}

/// The loop `id`, if it is still open.
pub(crate) fn lookup(id: u64) -> Option<Arc<Shared>> {
    loops()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&id)
        .and_then(Weak::upgrade)
}
