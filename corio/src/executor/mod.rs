//! Escapes from the loop for work that would block it or needs every core:
//! a bounded thread pool ([`to_thread`], [`ThreadPool`]) and a pool of
//! worker processes ([`ProcessPool`]).

mod pool;
mod process_pool;

pub use pool::{default_max_workers, to_thread, Blocking, PoolShutDown, ThreadPool};
pub use process_pool::{
    worker_main, Job, ProcessError, ProcessPool, RegisteredJob, DEFAULT_SHUTDOWN_TIMEOUT,
};
