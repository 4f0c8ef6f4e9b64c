//! Tasks and asyncio's task API: [`spawn`], [`Task`], [`gather!`](crate::gather),
//! [`gather_all`], [`try_gather`], [`wait`], [`as_completed`], [`shield`],
//! [`TaskGroup`], [`select`] / [`race`] and [`yield_now`]; tokio's
//! [`JoinSet`].

mod as_completed;
mod children;
pub mod gather;
mod group;
mod join_set;
mod select;
mod shield;
mod spawn;
mod wait;
mod yield_now;

pub(crate) use crate::runtime::task::cancel_now;
pub use crate::runtime::{panic_message, Task, TaskError};
pub use as_completed::{as_completed, AsCompleted};
pub use gather::{gather_all, try_gather, GatherAll, TryGather};
pub use group::{GroupError, TaskGroup};
pub use join_set::JoinSet;
pub use select::{race, select, Either, Race, Select};
pub use shield::{shield, Shield};
pub use spawn::{spawn, spawn_named};
pub use wait::{wait, ReturnWhen};
pub use yield_now::{yield_now, YieldNow};

/// Bytes of corio's per-task header (the rest of a task's allocation is its
/// future or output).
pub fn task_header_size() -> usize {
    crate::runtime::task::raw::header_size()
}

/// Bytes one task allocation takes for a future of type `F`: the future
/// (later its output) plus corio's header. A task costs exactly this one
/// allocation.
pub fn task_allocation_size<F: std::future::Future + 'static>() -> usize {
    crate::runtime::task::raw::allocation_size::<F>()
}
