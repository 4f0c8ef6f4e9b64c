//! What the ready queue holds: [`RawRunnable`]s, a data pointer and a
//! vtable, 16 bytes each. A task to poll is one (its header and a vtable
//! the loop recognises by address, so a task's poll stays inline in the
//! loop); a `call_soon` callback is its `Rc` with a vtable per closure type;
//! a closure sent from another thread is its box; and a foreign object (a
//! Python callback handle, say) is itself the queue entry, with no
//! allocation of corio's per callback. One shape for every kind keeps the
//! queue at 16 bytes an entry (an enum of them took 24).

use std::panic::Location;
use std::ptr::NonNull;
use std::rc::Rc;

use super::task::raw::{Header, TaskRef};

/// What kind of runnable a vtable runs: how the loop names it when it
/// panics or runs slow.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// A task (the loop polls it itself; see [`RawRunnable::into_task`]).
    Task,
    /// A `call_soon`/`call_later` callback; it reports its own panics
    /// (naming where it was scheduled) and says where that was.
    Call {
        location: unsafe fn(data: *const ()) -> &'static Location<'static>,
    },
    /// A closure sent from another thread.
    Foreign,
    /// A runnable made outside corio ([`RawRunnable::new`], `from_rc`).
    Raw,
}

impl RawRunnable {
    /// The queue entry of a task: its header and [`TASK_VTABLE`].
    #[inline(always)]
    pub(crate) fn task(task: TaskRef) -> RawRunnable {
        RawRunnable {
            data: task.into_ptr().as_ptr() as *const (),
            vtable: &TASK_VTABLE,
        }
    }

    /// The task header this entry stands for, if it is a task's entry
    /// (only `RawRunnable::task` uses TASK_VTABLE).
    #[inline(always)]
    fn task_header(&self) -> Option<NonNull<Header>> {
        // SAFETY: a task entry's data came from `TaskRef::into_ptr`, never null.
        std::ptr::eq(self.vtable, &TASK_VTABLE)
            .then(|| unsafe { NonNull::new_unchecked(self.data as *mut Header) })
    }

    /// The task this entry stands for, or the entry back when it is not one.
    #[inline(always)]
    pub(crate) fn into_task(self) -> Result<TaskRef, RawRunnable> {
        match self.task_header() {
            Some(header) => {
                std::mem::forget(self);
                // SAFETY: the entry's reference, from `into_ptr` in
                // `RawRunnable::task`, taken back once (the entry is forgotten).
                Ok(unsafe { TaskRef::from_ptr(header) })
            }
            None => Err(self),
        }
    }

    /// A new reference to the task this entry stands for, if it is one.
    pub(crate) fn task_ref(&self) -> Option<TaskRef> {
        // SAFETY: the header is live: the entry holds a reference, which
        // keeps it alive while one is added.
        self.task_header()
            .map(|header| unsafe { TaskRef::new_ref(header) })
    }

    /// A runnable of one of corio's own kinds.
    ///
    /// # Safety
    /// As for [`RawRunnable::new`].
    pub(crate) unsafe fn with_vtable(
        data: *const (),
        vtable: &'static RawRunnableVTable,
    ) -> RawRunnable {
        RawRunnable { data, vtable }
    }

    pub(crate) fn kind(&self) -> Kind {
        self.vtable.kind
    }

    /// For [`Kind::Call`]: where the callback was scheduled.
    pub(crate) fn call_location(&self) -> Option<&'static Location<'static>> {
        match self.vtable.kind {
            // SAFETY: a `Call` vtable's `location` reads the data it came with.
            Kind::Call { location } => Some(unsafe { location(self.data) }),
            _ => None,
        }
    }

    /// Asks the CPU to start loading the object this runnable will touch
    /// first (a task's header, a callback's cell), while the runnable
    /// before it runs: a burst of timers or tasks made long ago is cold in
    /// cache by the time it runs.
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        prefetch_read(self.data as *const u8);
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

/// The vtable of every task entry. The loop takes tasks out before running
/// anything through a vtable, so `run` is never called; `drop` releases the
/// queue's reference (a loop closing with tasks queued).
static TASK_VTABLE: RawRunnableVTable = RawRunnableVTable {
    run: run_task,
    drop: drop_task,
    kind: Kind::Task,
};

/// # Safety
/// As for `drop_task`.
unsafe fn run_task(data: *const ()) {
    debug_assert!(
        false,
        "corio: a task's queue entry is polled by the loop, never run"
    );
    // SAFETY: as for `drop_task`.
    unsafe { drop_task(data) }
}

/// # Safety
/// `data` is a task entry's header pointer, standing for one reference.
unsafe fn drop_task(data: *const ()) {
    // SAFETY: `data` came from `TaskRef::into_ptr` in `RawRunnable::task`
    // and stands for the queue's reference, released once.
    drop(unsafe { TaskRef::from_ptr(NonNull::new_unchecked(data as *mut Header)) });
}

/// A closure sent from another thread: its box and vtable, `Send` because
/// the closure is.
pub(crate) struct ForeignCall(RawRunnable);

// SAFETY: the data is a `Box<F>` with `F: Send` (see `new`); its vtable runs
// or drops it on whichever thread holds the `ForeignCall`.
unsafe impl Send for ForeignCall {}

impl ForeignCall {
    pub(crate) fn new<F: FnOnce() + Send + 'static>(f: F) -> ForeignCall {
        ForeignCall(RawRunnable {
            data: Box::into_raw(Box::new(f)) as *const (),
            vtable: &RawRunnableVTable {
                run: run_boxed::<F>,
                drop: drop_boxed::<F>,
                kind: Kind::Foreign,
            },
        })
    }

    /// Its queue entry (on the loop's thread).
    pub(crate) fn into_runnable(self) -> RawRunnable {
        self.0
    }
}

/// # Safety
/// `data` came from `Box::into_raw` of a `Box<F>`, and is taken back once.
unsafe fn run_boxed<F: FnOnce()>(data: *const ()) {
    // SAFETY: `data` came from `Box::into_raw` of a `Box<F>` in
    // `ForeignCall::new`; taken back once.
    let f = unsafe { Box::from_raw(data as *mut F) };
    f();
}

/// # Safety
/// As for `run_boxed`.
unsafe fn drop_boxed<F>(data: *const ()) {
    // SAFETY: as in `run_boxed`.
    drop(unsafe { Box::from_raw(data as *mut F) });
}

/// The functions behind a [`RawRunnable`] (as `RawWakerVTable` is behind a
/// `Waker`), made with [`RawRunnableVTable::new`].
pub struct RawRunnableVTable {
    /// Runs the runnable, consuming the reference `data` stands for.
    pub run: unsafe fn(data: *const ()),
    /// Releases the reference without running (the loop closed, or the
    /// runnable was cancelled).
    pub drop: unsafe fn(data: *const ()),
    pub(crate) kind: Kind,
}

impl RawRunnableVTable {
    /// A vtable of these two functions, usually kept in a `static`:
    ///
    /// ```
    /// use corio::runtime::RawRunnableVTable;
    ///
    /// unsafe fn run(_data: *const ()) {}
    /// unsafe fn drop(_data: *const ()) {}
    /// static VTABLE: RawRunnableVTable = RawRunnableVTable::new(run, drop);
    /// ```
    pub const fn new(
        run: unsafe fn(data: *const ()),
        drop: unsafe fn(data: *const ()),
    ) -> RawRunnableVTable {
        RawRunnableVTable {
            run,
            drop,
            kind: Kind::Raw,
        }
    }
}

impl std::fmt::Debug for RawRunnableVTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRunnableVTable").finish_non_exhaustive()
    }
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
        kind: Kind::Raw,
    }
}

/// # Safety
/// `data` came from `Rc::into_raw` of an `Rc<T>`, and is taken back once.
unsafe fn run_rc<T: RcRunnable>(data: *const ()) {
    // SAFETY: `data` came from `Rc::into_raw` of an `Rc<T>` in `from_rc`;
    // this takes that reference back exactly once.
    let value = unsafe { Rc::from_raw(data as *const T) };
    value.run();
}

/// # Safety
/// As for `run_rc`.
unsafe fn drop_rc<T: RcRunnable>(data: *const ()) {
    // SAFETY: as in `run_rc`.
    drop(unsafe { Rc::from_raw(data as *const T) });
}

#[cfg(test)]
mod tests {
    use super::RawRunnable;

    #[test]
    fn a_queue_entry_is_two_words() {
        // Pushed and popped as one 16-byte move; an enum of kinds was 24.
        assert_eq!(std::mem::size_of::<RawRunnable>(), 16);
    }
}
