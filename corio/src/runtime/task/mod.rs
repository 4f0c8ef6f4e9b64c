//! The task cell and its handle: one cell per task holding its header and
//! future ([`raw`]), carved from the loop's [`arena`], the loop's
//! [`registry`] of live tasks, the state machine every transition goes
//! through ([`state`]), the one door to the scheduler ([`schedule`]), the
//! task being polled ([`running`]: its reference lent to a waker), and
//! the [`Task`] handle that awaits the output.

pub(crate) mod arena;
mod catch_unwind;
mod error;
mod join;
pub(crate) mod oneshot;
mod origin;
pub(crate) mod raw;
pub(crate) mod registry;
pub(crate) mod running;
pub(crate) mod schedule;
pub(crate) mod state;

pub(crate) use catch_unwind::CatchUnwind;
pub use error::{panic_message, TaskError};
pub use join::Task;
pub(crate) use join::{cancel_now, Canceller};
