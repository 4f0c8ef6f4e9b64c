//! Which loop is running on this thread: a thread-local pointer to its core.

use std::cell::Cell;
use std::ptr;

use super::core::Core;

thread_local! {
    static CURRENT: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

/// The message every "needs a running loop" panic carries.
pub(crate) const NO_LOOP_HELP: &str = "there is no corio loop running on this thread: \
     run async code inside `corio::run(async { ... })`, `Runtime::block_on`, \
     or a `#[corio::main]` / `#[corio::test]` function (a corio future polled by another \
     runtime, such as tokio, finds no corio loop: run it on corio instead)";

/// In a child forked while a loop ran on the forking thread, no loop runs:
/// the parent's loop is not the child's to run (Python's `multiprocessing`
/// forks from inside callbacks). Registered once, when the first loop is
/// built.
pub(crate) fn reset_in_forked_children() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn in_child() {
        let _ = CURRENT.try_with(|c| c.set(ptr::null()));
    }
    ONCE.call_once(|| {
        // SAFETY: registers a child handler that only writes a null pointer
        // into this thread's thread-local (async-signal-safe in effect: no
        // allocation, no lock).
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
}

/// Runs `f` with the loop running on this thread, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    let ptr = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the pointer is set only by `enter`, whose guard restores it
    // before the core can be dropped (the guard borrows the core).
    Some(f(unsafe { &*ptr }))
}

/// Runs `f` with the loop `loop_id` if it is the one running on this thread.
#[inline]
pub(crate) fn with_loop<R>(loop_id: u64, f: impl FnOnce(&Core) -> R) -> Option<R> {
    with_current(|core| (core.id == loop_id).then(|| f(core))).flatten()
}

/// Runs `f` with the running loop, or panics with a message saying what to do.
#[track_caller]
pub(crate) fn expect_current<R>(what: &str, f: impl FnOnce(&Core) -> R) -> R {
    match with_current(f) {
        Some(r) => r,
        None => panic!("`{what}` called outside a running loop: {NO_LOOP_HELP}"),
    }
}

/// Whether the running loop is in debug mode.
pub(crate) fn debug_enabled() -> bool {
    with_current(|core| core.debug_enabled()).unwrap_or(false)
}

/// Hands `error` to the running loop's exception handler (stderr when no
/// loop is running).
pub(crate) fn report(error: super::LoopError) {
    if with_current(|core| core.report(&error)).is_none() {
        super::report::report_on_stderr(&error);
    }
}

/// Marks a loop as running on this thread until dropped.
pub(crate) struct Enter<'a> {
    prev: *const Core,
    _core: std::marker::PhantomData<&'a Core>,
}

/// Makes `core` the current loop. Panics if a loop is already running here
/// (nesting `block_on` inside a task would block the outer loop).
#[track_caller]
pub(crate) fn enter(core: &Core) -> Enter<'_> {
    let prev = CURRENT.with(Cell::get);
    if !prev.is_null() {
        panic!(
            "cannot start a corio loop (`block_on`, `run`, `run_forever`) from inside a running \
             loop: that would block the outer loop. Use `.await` on the future instead, or \
             `corio::spawn` it"
        );
    }
    CURRENT.with(|c| c.set(core));
    Enter {
        prev,
        _core: std::marker::PhantomData,
    }
}

/// Makes `core` current while it shuts down, even inside another loop, so
/// that destructors of its tasks find their own loop.
pub(crate) fn enter_for_shutdown(core: &Core) -> Enter<'_> {
    let prev = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    let _ = CURRENT.try_with(|c| c.set(core));
    Enter {
        prev,
        _core: std::marker::PhantomData,
    }
}

impl Drop for Enter<'_> {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.prev));
    }
}
