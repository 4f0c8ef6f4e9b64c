//! The raw task: one cell (from the loop's arena, or the global allocator
//! for a big future) holding a header and the future (later its output),
//! reference counted so that wakers may live on any thread.
//!
//! Threading rules, which make the `unsafe` below sound:
//! - The future `F` and output `T` are only created, polled, dropped and
//!   moved on the loop's own thread (they need not be `Send`).
//! - Any thread may clone, wake or drop a waker. Off the loop thread that
//!   touches only `refs` (atomic) and the immutable `loop_id`; a wake is
//!   handed to the loop through its injection queue, found by id in the
//!   global loop table.
//! - By the time the last reference goes (possibly on another thread), the
//!   stage is `Consumed`: the loop thread already dropped `F` and `T`, so
//!   freeing the memory runs no code of theirs.

use std::alloc::{self, Layout};
use std::any::Any;
use std::borrow::Cow;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::arena::{self, TaskArena};
use super::origin::Origin;
use super::schedule;
use super::state::{Completion, Idle, Start, State};
use super::TaskError;
use crate::coop;

/// What became of one poll, for the loop to act on.
pub(crate) enum PollOutcome {
    /// Parked; the queue's reference can go.
    Parked,
    /// Woken during the poll; the queue's reference goes back in the queue.
    Requeue,
    /// Finished (or dropped by cancellation); remove from the registry.
    Complete,
}

pub(crate) struct VTable {
    poll: unsafe fn(NonNull<Header>) -> PollOutcome,
    /// Drops the future now (runtime shutdown); the task completes cancelled.
    drop_future: unsafe fn(NonNull<Header>),
    /// Moves the output into `*mut Option<Result<T, TaskError>>`.
    take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops an unread output (the handle went away).
    drop_output: unsafe fn(NonNull<Header>),
    dealloc: unsafe fn(NonNull<Header>),
}

/// The part of a task that does not depend on its future's type: 56
/// bytes (without `tracing`), so a trivial task's cell is 80.
pub(crate) struct Header {
    /// Reference count; `u32` packs beside `registry_key` (more than two
    /// billion references to one task abort, as a leak would).
    refs: AtomicU32,
    /// Index in the loop's registry of live tasks.
    registry_key: Cell<u32>,
    pub(crate) state: State,
    /// The task id's low 56 bits (little-endian), packed beside `state`.
    id: [u8; 7],
    vtable: &'static VTable,
    /// The loop this task belongs to (to tell a local wake from a foreign
    /// one, and to find the loop for a foreign wake).
    pub(crate) loop_id: u64,
    /// Spawn location and name, in one word.
    origin: Origin,
    join_waker: Cell<Option<Waker>>,
    /// The task's span (feature `tracing`), entered around every poll.
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, TaskError>),
    Consumed,
}

#[repr(C)]
struct TaskCell<F: Future> {
    header: Header,
    stage: UnsafeCell<ManuallyDrop<Stage<F>>>,
}

/// Everything needed to allocate a task.
pub(crate) struct TaskMeta {
    pub(crate) loop_id: u64,
    pub(crate) id: u64,
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) location: &'static Location<'static>,
}

/// An owned reference to a task (one count of `refs`).
pub(crate) struct TaskRef {
    ptr: NonNull<Header>,
}

/// Allocates a task holding `future` (in `arena`, when its size allows)
/// and returns its three first references: for the `Task` handle, the
/// registry and the ready queue (counted once, not with three atomic
/// increments).
pub(crate) fn allocate<F: Future + 'static>(
    future: F,
    meta: TaskMeta,
    arena: &TaskArena,
) -> [TaskRef; 3] {
    #[cfg(feature = "tracing")]
    let span = tracing::trace_span!(
        "task",
        id = meta.id,
        name = meta.name.as_deref(),
        spawned_at = %meta.location,
    );
    let layout = Layout::new::<TaskCell<F>>();
    let memory = match arena::class_of(layout) {
        Some(class) => arena.alloc(class),
        // SAFETY: a task cell is never zero-sized (its header is not).
        None => NonNull::new(unsafe { alloc::alloc(layout) })
            .unwrap_or_else(|| alloc::handle_alloc_error(layout)),
    };
    let memory = memory.cast::<TaskCell<F>>();
    let cell = memory.as_ptr();
    // The header and the stage are written where they live, not built
    // aside and copied in: the copy read the id's byte stores back in wide
    // loads, which the CPU cannot forward, and every spawn waited on that.
    // SAFETY: fresh memory of `TaskCell<F>`'s layout; each part is written
    // once, through a pointer to its field (no reference to the
    // uninitialized cell is made).
    unsafe {
        ptr::addr_of_mut!((*cell).header).write(Header {
            refs: AtomicU32::new(3),
            registry_key: Cell::new(u32::MAX),
            state: State::new_scheduled(),
            id: pack_id(meta.id),
            vtable: vtable::<F>(),
            loop_id: meta.loop_id,
            origin: Origin::new(meta.name, meta.location),
            join_waker: Cell::new(None),
            #[cfg(feature = "tracing")]
            span,
        });
        ptr::addr_of_mut!((*cell).stage)
            .write(UnsafeCell::new(ManuallyDrop::new(Stage::Running(future))));
    }
    let ptr: NonNull<Header> = memory.cast();
    [TaskRef { ptr }, TaskRef { ptr }, TaskRef { ptr }]
}

/// A task id's low 56 bits, for [`Header::id`].
fn pack_id(id: u64) -> [u8; 7] {
    let bytes = id.to_le_bytes();
    [
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6],
    ]
}

/// The id [`pack_id`] kept.
fn unpack_id(packed: [u8; 7]) -> u64 {
    let mut bytes = [0; 8];
    bytes[..7].copy_from_slice(&packed);
    u64::from_le_bytes(bytes)
}

fn vtable<F: Future + 'static>() -> &'static VTable {
    &VTable {
        poll: poll::<F>,
        drop_future: drop_future::<F>,
        take_output: take_output::<F>,
        drop_output: drop_output::<F>,
        dealloc: dealloc::<F>,
    }
}

impl TaskRef {
    /// Takes one new reference to the task at `ptr`.
    ///
    /// # Safety
    /// `ptr` must point to a live task: the caller holds a reference to it
    /// (which keeps it alive while one more is added).
    pub(crate) unsafe fn new_ref(ptr: NonNull<Header>) -> TaskRef {
        // SAFETY: live, by the caller's contract.
        let header = unsafe { ptr.as_ref() };
        increment(header);
        TaskRef { ptr }
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we hold a reference, so the allocation is alive.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn as_ptr(&self) -> NonNull<Header> {
        self.ptr
    }

    /// Polls the task once. Loop thread only.
    pub(crate) fn poll(&self) -> PollOutcome {
        // SAFETY: we hold a reference and are on the loop thread (the only
        // caller is the loop's run queue).
        unsafe { (self.header().vtable.poll)(self.ptr) }
    }

    /// Drops the future now, completing the task as cancelled. Loop thread only.
    pub(crate) fn drop_future(&self) {
        // SAFETY: as for `poll`.
        unsafe { (self.header().vtable.drop_future)(self.ptr) }
    }

    /// Moves the output out. Loop thread only.
    ///
    /// # Safety
    /// `T` must be the output type of the task's future (`Task<T>` is only
    /// made for such tasks): the vtable writes an
    /// `Option<Result<F::Output, TaskError>>` through the pointer.
    pub(crate) unsafe fn take_output<T>(&self) -> Option<Result<T, TaskError>> {
        let mut out: Option<Result<T, TaskError>> = None;
        // SAFETY: `T` is `F::Output`, by the caller's contract.
        unsafe { (self.header().vtable.take_output)(self.ptr, &mut out as *mut _ as *mut ()) };
        out
    }

    /// Drops an unread output. Loop thread only.
    pub(crate) fn drop_output(&self) {
        // SAFETY: as for `poll`.
        unsafe { (self.header().vtable.drop_output)(self.ptr) }
    }

    /// Stores the waker to wake when the task completes.
    pub(crate) fn set_join_waker(&self, waker: &Waker) {
        let header = self.header();
        let old = header.join_waker.take();
        match old {
            Some(w) if w.will_wake(waker) => header.join_waker.set(Some(w)),
            _ => header.join_waker.set(Some(waker.clone())),
        }
    }

    /// Gives up this reference as a pointer (see [`TaskRef::from_ptr`]).
    pub(crate) fn into_ptr(self) -> NonNull<Header> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }

    /// Counts this reference again after a waker took it over during the
    /// task's poll (see [`running`](super::running)).
    ///
    /// # Safety
    /// The reference `self` stands for must be uncounted: a waker cloned
    /// during the poll this reference ran took it over.
    pub(crate) unsafe fn recount(&self) {
        increment(self.header());
    }

    /// Takes back a reference given up by [`TaskRef::into_ptr`].
    ///
    /// # Safety
    /// `ptr` came from `into_ptr` and its reference is taken back once.
    pub(crate) unsafe fn from_ptr(ptr: NonNull<Header>) -> TaskRef {
        TaskRef { ptr }
    }

    /// # Safety
    /// `ptr` must be a waker's data pointer, which owns one reference.
    unsafe fn from_raw(ptr: *const ()) -> TaskRef {
        TaskRef {
            // SAFETY: non-null by the caller's contract.
            ptr: unsafe { NonNull::new_unchecked(ptr as *mut Header) },
        }
    }
}

impl TaskRef {
    /// Releases this reference together with `other`, another reference to
    /// the same task, in one atomic step (the loop drops the queue's and the
    /// registry's references together when a task completes).
    pub(crate) fn release_with(self, other: TaskRef) {
        assert_eq!(
            self.ptr, other.ptr,
            "release_with: references to different tasks"
        );
        std::mem::forget(other);
        let ptr = self.ptr;
        std::mem::forget(self);
        // SAFETY: we still own two references, so the header is alive.
        let header = unsafe { ptr.as_ref() };
        if header.refs.fetch_sub(2, Ordering::Release) == 2 {
            std::sync::atomic::fence(Ordering::Acquire);
            // SAFETY: those were the last two references; see `Drop`.
            unsafe { (header.vtable.dealloc)(ptr) }
        }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        let header = self.header();
        if header.refs.fetch_sub(1, Ordering::Release) == 1 {
            std::sync::atomic::fence(Ordering::Acquire);
            // SAFETY: that was the last reference; nobody else can reach the
            // task. The stage is Consumed (see the module docs).
            unsafe { (header.vtable.dealloc)(self.ptr) }
        }
    }
}

fn increment(header: &Header) {
    // Relaxed is enough for an increment (as in `Arc::clone`); guard
    // against overflow from leaked wakers.
    if header.refs.fetch_add(1, Ordering::Relaxed) > i32::MAX as u32 {
        std::process::abort();
    }
}

/// A task reference crossing threads on its way to its loop's queue.
pub(crate) struct ForeignTask(pub(crate) TaskRef);

// SAFETY: off the loop thread a `ForeignTask` is only moved and dropped:
// dropping touches the atomic `refs` and, at zero, frees memory whose
// future and output were already dropped on the loop thread (module docs).
// The loop unwraps it back into a `TaskRef` on its own thread.
unsafe impl Send for ForeignTask {}

// ---- the waker ----------------------------------------------------------

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: `ptr` is a live task header (the waker owns a reference).
    let header = unsafe { &*(ptr as *const Header) };
    // During the task's own poll, on its loop's thread, the first clone
    // takes over the poll's reference instead of counting one (running.rs).
    if !schedule::lend_poll_ref(header) {
        increment(header);
    }
    RawWaker::new(ptr, &WAKER_VTABLE)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: the waker owned this reference; we pass it on.
    schedule::schedule(unsafe { TaskRef::from_raw(ptr) });
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: `ptr` is live (the waker still owns its reference).
    let ptr = unsafe { NonNull::new_unchecked(ptr as *mut Header) };
    // Fast path on the loop thread: a task waking itself while running only
    // sets a flag, with no reference counting.
    // SAFETY: as above, the header is live.
    let header = unsafe { ptr.as_ref() };
    let handled = schedule::on_own_loop(header.loop_id, |_| header.state.notify_if_running());
    if handled != Some(true) {
        // SAFETY: live, as above.
        schedule::schedule(unsafe { TaskRef::new_ref(ptr) });
    }
}

unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: the waker owned this reference.
    drop(unsafe { TaskRef::from_raw(ptr) });
}

/// A waker for the duration of one poll, borrowing the queue's reference.
fn borrowed_waker(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    let raw = RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE);
    // SAFETY: wrapped in ManuallyDrop, so the borrowed reference is never
    // released by it; clones take references of their own.
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}

// ---- typed operations ---------------------------------------------------

/// # Safety
/// `ptr` points to a live `TaskCell<F>`; loop thread only.
unsafe fn cell<'a, F: Future>(ptr: NonNull<Header>) -> &'a TaskCell<F> {
    // SAFETY: `TaskCell` is repr(C) with the header first.
    unsafe { ptr.cast::<TaskCell<F>>().as_ref() }
}

unsafe fn poll<F: Future + 'static>(ptr: NonNull<Header>) -> PollOutcome {
    // SAFETY: the caller holds a reference; loop thread.
    let cell = unsafe { cell::<F>(ptr) };
    let header = &cell.header;
    let start = header.state.to_running();
    if start == Start::AlreadyComplete {
        return PollOutcome::Parked;
    }
    // SAFETY: loop thread, and no other borrow of the stage is live: the
    // `Task` handle touches the stage only once the task is complete.
    let stage = unsafe { &mut **cell.stage.get() };
    let result = if start == Start::Cancel {
        Some(Err(take_and_drop_future(stage)))
    } else {
        let Stage::Running(future) = stage else {
            unreachable!("a task not complete holds its future")
        };
        // SAFETY: the future lives in a heap cell that never moves until it
        // is dropped in place (take_and_drop_future) or freed.
        let future = unsafe { Pin::new_unchecked(future) };
        let waker = borrowed_waker(ptr);
        let mut cx = Context::from_waker(&waker);
        let _budget = coop::BudgetGuard::task();
        #[cfg(feature = "tracing")]
        let _span = header.span.enter();
        match panic::catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx))) {
            Ok(Poll::Pending) => None,
            Ok(Poll::Ready(value)) => Some(Ok(value)),
            Err(payload) => Some(Err(TaskError::Panicked(payload))),
        }
    };
    match result {
        None => match header.state.to_idle() {
            Idle::Requeue => PollOutcome::Requeue,
            Idle::Park => PollOutcome::Parked,
        },
        Some(result) => {
            // The future is done: drop it before storing the output.
            if let Stage::Running(_) = stage {
                if let Err(payload) =
                    panic::catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed))
                {
                    report_panic(header, "while dropping its future", &*payload);
                }
            }
            complete(header, stage, result);
            PollOutcome::Complete
        }
    }
}

/// Drops the future in place, returning the cancellation error (or the panic
/// its destructor raised).
fn take_and_drop_future<F: Future>(stage: &mut Stage<F>) -> TaskError {
    match panic::catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed)) {
        Ok(()) => TaskError::Cancelled,
        Err(payload) => TaskError::Panicked(payload),
    }
}

fn complete<F: Future>(
    header: &Header,
    stage: &mut Stage<F>,
    result: Result<F::Output, TaskError>,
) {
    let how = match result {
        Ok(_) => Completion::Finished,
        Err(TaskError::Cancelled) => Completion::Cancelled,
        Err(TaskError::Panicked(_)) => Completion::Panicked,
    };
    if header.state.to_complete(how) {
        if let Err(TaskError::Panicked(payload)) = &result {
            report_panic(header, "and nobody awaited it", &**payload);
        }
        drop_quietly(header, result);
    } else {
        *stage = Stage::Finished(result);
        if let Some(waker) = header.join_waker.take() {
            waker.wake();
        }
    }
}

/// Drops a value whose destructor might panic, reporting instead of unwinding.
fn drop_quietly<V>(header: &Header, value: V) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| drop(value))) {
        report_panic(header, "while dropping its output", &*payload);
    }
}

/// asyncio's "Task exception was never retrieved", on stderr.
pub(crate) fn report_panic(header: &Header, when: &str, payload: &(dyn Any + Send)) {
    let message = super::panic_message(payload);
    #[cfg(feature = "tracing")]
    tracing::error!(
        parent: &header.span,
        panic = message,
        "task panicked {when}"
    );
    schedule::report(format!(
        "task {} panicked {when}: {message}{}",
        describe(header),
        super::error::tokio_hint(message)
    ));
}

impl Header {
    /// The name given with `spawn_named`.
    pub(crate) fn name(&self) -> Option<&str> {
        self.origin.name()
    }

    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        self.origin.location()
    }

    /// The task's id (unique on its loop for its first 2^56 tasks).
    pub(crate) fn id(&self) -> u64 {
        unpack_id(self.id)
    }

    /// Index in the loop's registry of live tasks.
    pub(crate) fn registry_key(&self) -> usize {
        self.registry_key.get() as usize
    }

    pub(crate) fn set_registry_key(&self, key: usize) {
        let key = u32::try_from(key).expect("corio: more than 4 billion live tasks on one loop");
        self.registry_key.set(key);
    }
}

/// `#7 'name' (spawned at src/main.rs:10:5)`.
pub(crate) fn describe(header: &Header) -> String {
    let (id, location) = (header.id(), header.location());
    match header.name() {
        Some(name) => format!("#{id} '{name}' (spawned at {location})"),
        None => format!("#{id} (spawned at {location})"),
    }
}

unsafe fn drop_future<F: Future + 'static>(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference; loop thread.
    let cell = unsafe { cell::<F>(ptr) };
    let header = &cell.header;
    if !header.state.can_drop_future() {
        return;
    }
    // SAFETY: loop thread; not running, so no borrow of the stage is live.
    let stage = unsafe { &mut **cell.stage.get() };
    let error = take_and_drop_future(stage);
    complete(header, stage, Err(error));
}

unsafe fn take_output<F: Future + 'static>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: the caller holds a reference; loop thread.
    let cell = unsafe { cell::<F>(ptr) };
    debug_assert!(cell.header.state.is_complete());
    // SAFETY: complete, so the loop no longer touches the stage.
    let stage = unsafe { &mut **cell.stage.get() };
    if let Stage::Finished(result) = std::mem::replace(stage, Stage::Consumed) {
        // SAFETY: `dst` is an `Option<Result<F::Output, TaskError>>` (see
        // `TaskRef::take_output`).
        unsafe { *(dst as *mut Option<Result<F::Output, TaskError>>) = Some(result) };
    }
}

unsafe fn drop_output<F: Future + 'static>(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference; loop thread.
    let cell = unsafe { cell::<F>(ptr) };
    let header = &cell.header;
    if !header.state.is_complete() {
        return;
    }
    // SAFETY: complete, so the loop no longer touches the stage.
    let stage = unsafe { &mut **cell.stage.get() };
    if let Stage::Finished(result) = std::mem::replace(stage, Stage::Consumed) {
        if let Err(TaskError::Panicked(payload)) = &result {
            report_panic(
                header,
                "and its Task was dropped without reading it",
                &**payload,
            );
        }
        drop_quietly(header, result);
    }
}

unsafe fn dealloc<F: Future + 'static>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<TaskCell<F>>();
    // SAFETY: last reference, so nobody else can reach the cell any more.
    let consumed = matches!(unsafe { &**(*cell.as_ptr()).stage.get() }, Stage::Consumed);
    // The stage is ManuallyDrop: if (through a bug) it still held F or T we
    // leak them rather than run their destructors on a foreign thread.
    debug_assert!(
        consumed,
        "corio: task freed before its future or output was dropped"
    );
    // SAFETY: as above; read before the header is dropped.
    let loop_id = unsafe { cell.as_ref() }.header.loop_id;
    // SAFETY: as above; drops the header's fields (the stage is ManuallyDrop).
    unsafe { ptr::drop_in_place(cell.as_ptr()) };
    let layout = Layout::new::<TaskCell<F>>();
    let memory = cell.cast::<u8>();
    match arena::class_of(layout) {
        // SAFETY: allocated by the global allocator with this layout.
        None => unsafe { alloc::dealloc(memory.as_ptr(), layout) },
        Some(class) => {
            // On the loop's thread, with the loop entered, straight back to
            // its free list; anywhere else through the remote stack.
            // SAFETY: from the arena of loop `loop_id`, freed once, unused.
            let local = schedule::on_own_loop(loop_id, |core| unsafe {
                core.task_arena().free_local(memory, class)
            });
            if local.is_none() {
                // SAFETY: as above.
                unsafe { arena::free_remote(memory, class) };
            }
        }
    }
}

/// Bytes of a task allocation that are not its future: the header, plus the
/// stage's tag and padding (and the output, where it is larger than the future).
pub(crate) fn allocation_size<F: Future>() -> usize {
    std::mem::size_of::<TaskCell<F>>()
}

/// Size of the type-independent part of a task.
pub(crate) fn header_size() -> usize {
    std::mem::size_of::<Header>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_id_keeps_its_low_56_bits() {
        for id in [1, 255, 256, 1 << 32, (1 << 40) + 5, (1 << 56) - 1] {
            assert_eq!(unpack_id(pack_id(id)), id);
        }
        assert_eq!(unpack_id(pack_id((1 << 56) + 9)), 9, "ids wrap after 2^56");
    }

    #[test]
    fn the_header_is_seven_words() {
        // refs + registry slot, state + id, vtable, loop id, origin, join
        // waker (two words): a trivial task's cell stays in the 80-byte class.
        let words = if cfg!(feature = "tracing") { 12 } else { 7 };
        assert_eq!(header_size(), words * 8);
    }
}
