//! asyncio's debug mode: warnings about slow polls and callbacks, and the
//! list of live tasks.

use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// One poll or callback that ran longer than the debug threshold: while it
/// ran, no other task could (a blocking call is the usual culprit).
#[derive(Clone, Debug)]
pub struct SlowCallback {
    /// The task (id, name, spawn location) or callback (where it was scheduled).
    pub what: String,
    /// How long the single poll or callback ran.
    pub duration: Duration,
}

impl std::fmt::Display for SlowCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} took {:.3?} in one step: it blocks the loop",
            self.what, self.duration
        )
    }
}

/// Where slow-callback warnings go.
pub(crate) type SlowCallbackHook = Arc<dyn Fn(&SlowCallback) + Send + Sync>;

pub(crate) struct DebugConfig {
    pub(crate) slow_callback_duration: Duration,
    pub(crate) on_slow_callback: SlowCallbackHook,
}

/// The default reporter: a warning on stderr.
pub(crate) fn warn_on_stderr(slow: &SlowCallback) {
    eprintln!("corio warning: {slow}");
}

/// Whether `CORIO_DEBUG` asks for debug mode (set and not `0`/empty).
pub(crate) fn debug_from_env() -> bool {
    std::env::var_os("CORIO_DEBUG").is_some_and(|v| !v.is_empty() && v != "0")
}

/// What a live task is doing, as listed by [`all_tasks`](crate::all_tasks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// On the ready queue, to be polled this or next iteration.
    Scheduled,
    /// Being polled right now (the task that called `all_tasks`).
    Running,
    /// Parked until something wakes it (I/O, a timer, another task).
    Waiting,
}

/// A live task, as listed by [`all_tasks`](crate::all_tasks).
#[derive(Clone, Debug)]
pub struct TaskInfo {
    /// The task's id, unique within its loop, counting from 1.
    pub id: u64,
    /// The name given with `spawn_named`, if any.
    pub name: Option<String>,
    /// Where the task was spawned.
    pub location: &'static Location<'static>,
    /// What the task is doing.
    pub state: TaskState,
}
