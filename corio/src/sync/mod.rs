//! Synchronization between tasks of one loop, with asyncio's semantics:
//! [`Lock`], [`Mutex`], [`Event`], [`Condition`], [`Semaphore`],
//! [`BoundedSemaphore`], [`Barrier`]; and what tokio users reach for:
//! [`Notify`], [`watch`], [`broadcast`] and [`oneshot`] (the one that also
//! crosses threads and loops); [`threadsafe`] holds `Notify`, `watch` and
//! `broadcast` for tasks on different threads.
//!
//! Apart from `oneshot` and `threadsafe`, these are for tasks on the same
//! loop (`Rc` + `Cell`, no atomics); they are
//! `!Send`. Every waiter queue is FIFO, and every primitive says what a
//! cancelled (dropped) waiter does; none loses a permit, an item or a
//! wake-up meant for another task.

mod barrier;
pub mod broadcast;
mod condition;
mod event;
mod lock;
mod mutex;
mod notify;
pub mod oneshot;
mod semaphore;
pub mod threadsafe;
pub(crate) mod wait_list;
pub mod watch;

pub use barrier::{Barrier, BarrierWait, BrokenBarrier};
pub use condition::{Condition, ConditionWait};
pub use event::{Event, EventWait};
pub use lock::{Lock, LockGuard, NotLocked};
pub use mutex::{Mutex, MutexGuard};
pub use notify::{Notified, Notify};
pub use semaphore::{
    Acquire, BoundedPermit, BoundedSemaphore, OwnedSemaphorePermit, Semaphore, SemaphorePermit,
    TooManyReleases,
};
