//! # corio: asyncio, built in Rust
//!
//! One thread, one event loop, many tasks that each say where they can wait
//! (`.await`). While one task waits on a timer or the network, the loop runs
//! another. corio has asyncio's model and vocabulary (`run`, `spawn`,
//! `gather`, `wait_for`, `TaskGroup`, `call_soon`, ...) in idiomatic Rust.
//!
//! ```
//! use std::time::Duration;
//! use corio::{sleep, spawn};
//!
//! #[corio::main]
//! async fn main() {
//!     // Three "requests" of 30 ms each, at once: about 30 ms in all, not 90.
//!     let tasks: Vec<_> = (1..=3)
//!         .map(|i| spawn(async move {
//!             sleep(Duration::from_millis(30)).await;
//!             i * 10
//!         }))
//!         .collect();
//!     let results = corio::gather_all(tasks).await;
//!     let values: Vec<i32> = results.into_iter().map(Result::unwrap).collect();
//!     assert_eq!(values, [10, 20, 30]);
//! }
//! ```
//!
//! ## Map
//!
//! | asyncio | corio |
//! |---|---|
//! | `asyncio.run(main())` | [`run`], [`#[corio::main]`](main) |
//! | `loop.run_until_complete` / `run_forever` / `stop` | [`Runtime::block_on`], [`Runtime::run_forever`], [`stop`] |
//! | `create_task`, `Task.cancel()` | [`spawn`], [`spawn_named`], [`Task::cancel`] |
//! | `gather`, `wait`, `as_completed`, `shield` | [`gather!`], [`gather_all`], [`try_gather`], [`wait`], [`as_completed`], [`shield`] |
//! | `TaskGroup` | [`TaskGroup`] |
//! | `sleep`, `wait_for`, `timeout` | [`sleep`], [`wait_for`], [`timeout`], [`time::interval`] |
//! | `call_soon`, `call_later`, `call_at` | [`call_soon`], [`call_later`], [`call_at`] |
//! | `call_soon_threadsafe`, `run_coroutine_threadsafe` | [`LoopHandle`] |
//! | `all_tasks`, debug mode | [`all_tasks`], [`Builder::debug`], `CORIO_DEBUG=1` |
//! | `Lock`, `Event`, `Condition`, `Semaphore`, `Barrier` | [`sync`] |
//! | `Queue`, `LifoQueue`, `PriorityQueue` | [`queue`] |
//! | `open_connection`, `start_server`, streams | [`stream`] |
//! | sockets, `getaddrinfo` | [`net`] |
//! | `to_thread`, `ThreadPoolExecutor` | [`to_thread`], [`executor::ThreadPool`] |
//! | `ProcessPoolExecutor` | `executor::ProcessPool`, `executor::worker_main` (feature `process-pool`) |
//! | subprocesses | [`process::Command`] |
//! | `add_signal_handler` | `signal` (feature `signal`) |
//! | aiofiles | `fs` (feature `fs`) |
//! | `ssl=` on streams | `corio::tls` (feature `tls`) |
//! | HTTP (as aiohttp users expect) | hyper 1.x through `corio::hyper` (feature `hyper`) |
//!
//! ## Rules of the loop
//!
//! - **Tasks need not be `Send`.** The loop is single-threaded; share state
//!   between tasks with `Rc` and `RefCell`.
//! - **Cancellation is dropping.** [`Task::cancel`] drops the task's future
//!   at its next scheduling point; awaiting it gives [`TaskError::Cancelled`].
//!   Dropping a [`Task`] handle detaches the task (it keeps running).
//! - **Panics stay in their task.** Awaiting a task that panicked gives
//!   [`TaskError::Panicked`]; a panic nobody awaited is reported on stderr.
//! - **Blocking calls block everything.** Keep polls short; debug mode
//!   names the task that blocked the loop.
//! - **Outside a loop**, `spawn`, `sleep` and friends panic with a message
//!   that says to use [`run`] or `#[corio::main]`.
#![warn(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]

// corio drives epoll, pidfds, eventfds and prctl directly.
#[cfg(not(target_os = "linux"))]
compile_error!(
    "corio runs on Linux only (it uses epoll, pidfd_open, eventfd and PR_SET_PDEATHSIG); \
     build it on a Linux target"
);

#[cfg(feature = "tokio-compat")]
pub mod compat;
mod coop;
mod driver;
pub mod executor;
#[cfg(feature = "fs")]
pub mod fs;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "hyper")]
#[path = "hyper_rt/mod.rs"]
pub mod hyper;
pub mod io;
pub mod net;
pub mod process;
pub mod queue;
pub mod runtime;
#[cfg(feature = "signal")]
pub mod signal;
pub mod stream;
pub mod sync;
pub mod task;
pub mod time;
#[cfg(feature = "tls")]
pub mod tls;

pub use executor::to_thread;
pub use runtime::{
    all_tasks, call_at, call_later, call_soon, in_loop, run, stop, Builder, Handle, LoopClosed,
    LoopError, LoopHandle, RemoteTask, Runtime, SlowCallback, TaskInfo, TaskState,
};
pub use task::{
    as_completed, gather_all, race, select, shield, spawn, spawn_named, try_gather, wait,
    yield_now, Either, GroupError, ReturnWhen, Task, TaskError, TaskGroup,
};
pub use time::{sleep, sleep_until, timeout, timeout_at, wait_for, Elapsed};

/// Runs an `async fn main` on a new corio loop: `#[corio::main]`.
///
/// `#[corio::main(debug)]` turns on debug mode.
///
/// ```
/// #[corio::main]
/// async fn main() -> Result<(), std::io::Error> {
///     corio::sleep(std::time::Duration::from_millis(1)).await;
///     Ok(())
/// }
/// ```
pub use corio_macros::main;

/// Runs an `async fn` test on a new corio loop: `#[corio::test]`.
///
/// `#[corio::test(paused)]` runs it on virtual time (see
/// [`Builder::paused`]); `#[corio::test(debug)]` turns on debug mode.
pub use corio_macros::test;

#[doc(hidden)]
pub mod __private {
    /// The runtime a `#[corio::main]` / `#[corio::test]` function runs on.
    pub fn runtime_for_macro(paused: bool, debug: bool) -> crate::Runtime {
        let mut builder = crate::Runtime::builder().paused(paused);
        if debug {
            builder = builder.debug(true);
        }
        builder
            .build()
            .unwrap_or_else(|e| panic!("corio could not create an event loop: {e}"))
    }
}

/// Compiles the README's Rust examples as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
