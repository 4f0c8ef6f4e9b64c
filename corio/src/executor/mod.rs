//! Escapes from the loop for work that would block it: a bounded thread
//! pool ([`to_thread`], [`ThreadPool`]).

pub(crate) mod oneshot;
mod pool;

pub use pool::{default_max_workers, to_thread, Blocking, PoolShutDown, ThreadPool};
