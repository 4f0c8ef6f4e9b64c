//! What the ready queue holds: runnables of several kinds, a task to poll
//! being one of them. asyncio's queue holds callbacks; corio's holds tasks,
//! callbacks, closures sent from other threads, and [`RawRunnable`]s — a
//! foreign object (a Python callback handle, say) that is itself the queue
//! entry, with no allocation of corio's per callback.

use std::rc::Rc;

use super::callback::Callback;
use super::task::raw::TaskRef;

/// One unit of work on the ready queue.
pub(crate) enum Runnable {
    /// Poll a task.
    Task(TaskRef),
    /// Run a `call_soon` / `call_later` callback.
    Call(Rc<dyn Callback>),
    /// Run a closure sent from another thread.
    Foreign(Box<dyn FnOnce() + Send>),
    /// Run a foreign object through its own vtable.
    Raw(RawRunnable),
}

impl Runnable {
    /// Asks the CPU to start loading the object this runnable will touch
    /// first (a task's header, a raw runnable's data), while the runnable
    /// before it runs: a burst of timers or tasks made long ago is cold in
    /// cache by the time it runs.
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        let ptr = match self {
            Runnable::Task(task) => task.as_ptr().as_ptr() as *const u8,
            Runnable::Raw(raw) => raw.data as *const u8,
            Runnable::Call(_) | Runnable::Foreign(_) => return,
        };
        prefetch_read(ptr);
    }
}

/// A prefetch hint for the cache line at `ptr` (none off x86-64).
#[inline(always)]
fn prefetch_read(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and reads nothing
    // the program sees, whatever the address; SSE is baseline on x86-64.
    unsafe {
        std::arch::x86_64::_mm_prefetch(ptr as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// The functions behind a [`RawRunnable`] (as `RawWakerVTable` is behind a
/// `Waker`).
#[derive(Debug)]
pub struct RawRunnableVTable {
    /// Runs the runnable, consuming the reference `data` stands for.
    pub run: unsafe fn(data: *const ()),
    /// Releases the reference without running (the loop closed, or the
    /// runnable was cancelled).
    pub drop: unsafe fn(data: *const ()),
}

/// A runnable made of a data pointer and a vtable: how a foreign runtime's
/// object (a reference-counted Python handle, say) goes on corio's ready
/// queue as it is, without a box around it. The loop calls `run` exactly
/// once, or `drop` if it never runs it, always on the loop's thread.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use corio::runtime::{RawRunnable, RcRunnable};
///
/// struct Counter(Cell<u32>);
/// impl RcRunnable for Counter {
///     fn run(&self) {
///         self.0.set(self.0.get() + 1);
///     }
/// }
/// let counter = Rc::new(Counter(Cell::new(0)));
/// let rt = corio::Runtime::new().unwrap();
/// for _ in 0..3 {
///     rt.call_soon_raw(RawRunnable::from_rc(counter.clone()));
/// }
/// rt.run_once();
/// assert_eq!(counter.0.get(), 3);
/// ```
pub struct RawRunnable {
    data: *const (),
    vtable: &'static RawRunnableVTable,
}

impl RawRunnable {
    /// A runnable from a data pointer and a vtable.
    ///
    /// # Safety
    /// `data` stands for one reference (or ownership) that `vtable.run`
    /// and `vtable.drop` each consume; calling either exactly once on the
    /// thread that created the runnable must be sound. The runnable is
    /// `!Send`: it never leaves that thread.
    pub unsafe fn new(data: *const (), vtable: &'static RawRunnableVTable) -> RawRunnable {
        RawRunnable { data, vtable }
    }

    /// A runnable that calls [`RcRunnable::run`] on the `Rc`'s value, then
    /// releases that reference: the `Rc` is the queue entry, no other
    /// allocation is made.
    pub fn from_rc<T: RcRunnable>(value: Rc<T>) -> RawRunnable {
        RawRunnable {
            data: Rc::into_raw(value) as *const (),
            vtable: rc_vtable::<T>(),
        }
    }

    /// Runs it now, on this thread (the loop does this when it reaches it
    /// on the ready queue).
    pub fn run(self) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `data` and `vtable` came together from `new` (whose
        // contract makes this call sound) or `from_rc`; ManuallyDrop keeps
        // `drop` from being called as well.
        unsafe { (this.vtable.run)(this.data) }
    }
}

impl Drop for RawRunnable {
    fn drop(&mut self) {
        // SAFETY: as for `run`; this is the one release of `data`.
        unsafe { (self.vtable.drop)(self.data) }
    }
}

impl std::fmt::Debug for RawRunnable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRunnable")
            .field("data", &self.data)
            .finish()
    }
}

/// Something the loop can run from an `Rc`, with no box around it
/// ([`RawRunnable::from_rc`]).
pub trait RcRunnable: 'static {
    /// Runs it (the loop's reference is released after).
    fn run(&self);
}

fn rc_vtable<T: RcRunnable>() -> &'static RawRunnableVTable {
    &RawRunnableVTable {
        run: run_rc::<T>,
        drop: drop_rc::<T>,
    }
}

unsafe fn run_rc<T: RcRunnable>(data: *const ()) {
    // SAFETY: `data` came from `Rc::into_raw` of an `Rc<T>` in `from_rc`;
    // this takes that reference back exactly once.
    let value = unsafe { Rc::from_raw(data as *const T) };
    value.run();
}

unsafe fn drop_rc<T: RcRunnable>(data: *const ()) {
    // SAFETY: as in `run_rc`.
    drop(unsafe { Rc::from_raw(data as *const T) });
}
