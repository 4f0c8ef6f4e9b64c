//! A bounded pool of threads for blocking work (asyncio's
//! `ThreadPoolExecutor` behind `to_thread` and `run_in_executor`).

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::runtime::task::oneshot;
use crate::runtime::InFlight;
use crate::task::TaskError;

type Job = Box<dyn FnOnce() + Send>;

struct State {
    queue: VecDeque<Job>,
    workers: usize,
    idle: usize,
    shutdown: bool,
}

struct Inner {
    name: String,
    max_workers: usize,
    idle_timeout: Duration,
    state: Mutex<State>,
    work: Condvar,
    /// Signalled when a worker exits (for `shutdown(wait = true)`).
    exited: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pool refuses work after [`ThreadPool::shutdown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolShutDown;

impl std::fmt::Display for PoolShutDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the thread pool was shut down")
    }
}

impl std::error::Error for PoolShutDown {}

/// A bounded pool of threads for blocking calls, so they do not block the
/// loop. Threads start on demand up to `max_workers` and retire after being
/// idle for a while (10 s by default). Cloning gives another handle to the
/// same pool.
///
/// ```
/// use corio::executor::ThreadPool;
/// corio::run(async {
///     let pool = ThreadPool::new(2);
///     let sum = pool.submit(|| (1..=100u64).sum::<u64>()).await.unwrap();
///     assert_eq!(sum, 5050);
/// });
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("ThreadPool")
            .field("name", &self.inner.name)
            .field("max_workers", &self.inner.max_workers)
            .field("workers", &state.workers)
            .field("queued", &state.queue.len())
            .finish()
    }
}

/// Python's `ThreadPoolExecutor` default: `min(32, cores + 4)`.
pub fn default_max_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores + 4).min(32)
}

impl ThreadPool {
    /// A pool of at most `max_workers` threads.
    ///
    /// Panics if `max_workers` is zero.
    pub fn new(max_workers: usize) -> ThreadPool {
        ThreadPool::with_options(max_workers, Duration::from_secs(10), "corio-worker")
    }

    /// A pool with a given idle timeout and thread name.
    ///
    /// Panics if `max_workers` is zero.
    pub fn with_options(max_workers: usize, idle_timeout: Duration, name: &str) -> ThreadPool {
        assert!(
            max_workers > 0,
            "ThreadPool: max_workers must be at least 1"
        );
        ThreadPool {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                max_workers,
                idle_timeout,
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    workers: 0,
                    idle: 0,
                    shutdown: false,
                }),
                work: Condvar::new(),
                exited: Condvar::new(),
            }),
        }
    }

    /// The shared pool behind [`to_thread`](crate::executor::to_thread), of
    /// [`default_max_workers`] threads. Its threads retire after 10 s idle,
    /// or after `CORIO_THREAD_IDLE_MS` milliseconds when that is set (read
    /// once, when the pool is first used).
    pub fn shared() -> &'static ThreadPool {
        static POOL: OnceLock<ThreadPool> = OnceLock::new();
        POOL.get_or_init(|| {
            let idle = std::env::var("CORIO_THREAD_IDLE_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map_or(Duration::from_secs(10), Duration::from_millis);
            ThreadPool::with_options(default_max_workers(), idle, "corio-worker")
        })
    }

    /// Runs `f` on a pool thread; the returned future gives its result, or
    /// [`TaskError::Panicked`] if it panicked (the pool keeps working).
    /// Dropping the future does not stop a job already running.
    ///
    /// From inside a loop, a paused clock does not jump while the job runs.
    /// Panics if the pool was shut down.
    #[track_caller]
    pub fn submit<T, F>(&self, f: F) -> Blocking<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.try_submit(f) {
            Ok(job) => job,
            Err(PoolShutDown) => {
                panic!("ThreadPool::submit after shutdown: the pool takes no more work")
            }
        }
    }

    /// Like [`submit`](Self::submit), failing instead of panicking after shutdown.
    pub fn try_submit<T, F>(&self, f: F) -> Result<Blocking<T>, PoolShutDown>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // Count the job as in flight for the loop (if any), until its result is queued.
        let on_done: Option<Box<dyn FnOnce() + Send>> = InFlight::begin()
            .map(|in_flight| Box::new(move || drop(in_flight)) as Box<dyn FnOnce() + Send>);
        let (tx, rx) = oneshot::channel(on_done);
        let job: Job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(f)).map_err(TaskError::Panicked);
            let _ = tx.send(result);
        });
        self.push(job)?;
        Ok(Blocking { rx })
    }

    /// Runs `f` on every item across the pool; the results in item order
    /// (`ThreadPoolExecutor.map`).
    pub async fn map<I, F, R>(&self, f: F, items: I) -> Vec<Result<R, TaskError>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let f = Arc::new(f);
        let jobs: Vec<Blocking<R>> = items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.submit(move || f(item))
            })
            .collect();
        crate::gather_all(jobs).await
    }

    fn push(&self, job: Job) -> Result<(), PoolShutDown> {
        let mut state = self.inner.lock();
        if state.shutdown {
            return Err(PoolShutDown);
        }
        state.queue.push_back(job);
        if state.idle > 0 {
            self.inner.work.notify_one();
        } else if state.workers < self.inner.max_workers {
            state.workers += 1;
            drop(state);
            self.start_worker();
        }
        Ok(())
    }

    fn start_worker(&self) {
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name(self.inner.name.clone())
            .spawn(move || worker(inner));
        if let Err(e) = spawned {
            // Jobs stay queued for the workers that exist; with none, say so.
            let mut state = self.inner.lock();
            state.workers -= 1;
            if state.workers == 0 {
                panic!("corio: could not start a thread-pool worker: {e}");
            }
        }
    }

    /// Stops taking work. Queued jobs still run. With `wait`, blocks this
    /// thread until every worker has exited (do not call it with `wait` from
    /// a loop thread: it blocks the loop).
    pub fn shutdown(&self, wait: bool) {
        let mut state = self.inner.lock();
        state.shutdown = true;
        self.inner.work.notify_all();
        if wait {
            while state.workers > 0 {
                state = self
                    .inner
                    .exited
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }

    /// Threads alive now.
    pub fn workers(&self) -> usize {
        self.inner.lock().workers
    }

    /// The most threads this pool runs at once.
    pub fn max_workers(&self) -> usize {
        self.inner.max_workers
    }
}

fn worker(inner: Arc<Inner>) {
    let mut state = inner.lock();
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            job(); // panics are caught inside the job
            state = inner.lock();
            continue;
        }
        if state.shutdown {
            break;
        }
        state.idle += 1;
        let (next, timeout) = inner
            .work
            .wait_timeout(state, inner.idle_timeout)
            .unwrap_or_else(PoisonError::into_inner);
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.queue.is_empty() {
            break; // idle too long: retire
        }
    }
    state.workers -= 1;
    drop(state);
    inner.exited.notify_all();
}

/// The result of a job on a [`ThreadPool`].
#[must_use = "futures do nothing unless awaited"]
pub struct Blocking<T> {
    rx: oneshot::Receiver<Result<T, TaskError>>,
}

impl<T> std::fmt::Debug for Blocking<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blocking")
    }
}

impl<T> Future for Blocking<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(TaskError::Cancelled)))
    }
}

/// Runs the blocking closure `f` on the shared thread pool and awaits its
/// result (asyncio's `to_thread`). A panic in `f` comes back as
/// [`TaskError::Panicked`].
///
/// ```
/// corio::run(async {
///     let n = corio::to_thread(|| {
///         std::thread::sleep(std::time::Duration::from_millis(10)); // blocking is fine here
///         42
///     })
///     .await
///     .unwrap();
///     assert_eq!(n, 42);
/// });
/// ```
#[track_caller]
pub fn to_thread<T, F>(f: F) -> Blocking<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    ThreadPool::shared().submit(f)
}
