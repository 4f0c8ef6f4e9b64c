//! Escapes from the loop for work that would block it or needs every core:
//! a bounded thread pool ([`to_thread`], [`ThreadPool`]) and a pool of
//! worker processes (`ProcessPool`, feature `process-pool`, on by default).

mod pool;
#[cfg(feature = "process-pool")]
mod process_pool;

pub use pool::{default_max_workers, to_thread, Blocking, PoolShutDown, ThreadPool};
#[cfg(feature = "process-pool")]
pub use process_pool::{
    worker_main, Job, ProcessError, ProcessPool, RegisteredJob, DEFAULT_SHUTDOWN_TIMEOUT,
};
