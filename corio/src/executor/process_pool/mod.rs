//! A pool of worker processes for CPU-bound work (asyncio's
//! `ProcessPoolExecutor`), in the spawn model: workers are this executable
//! started again; [`worker_main`] at the top of `main` makes them serve the
//! registered [`Job`]s. Arguments and results cross pipes with serde
//! (postcard).

mod error;
mod job;
mod protocol;
mod spawner;
mod worker;
mod worker_process;

use std::cell::{Cell, RefCell};
use std::ffi::OsString;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::ProcessError;
pub use job::{Job, RegisteredJob};
pub use worker::worker_main;

use self::job::JobFailure;
use self::protocol::{frame, Request, Response};
use self::worker_process::{CallError, WorkerCommand, WorkerProcess};
use crate::queue::Queue;
use crate::runtime::task::oneshot;
use crate::sync::Event;
use crate::task::{Either, Task};

/// How long [`ProcessPool::shutdown`] waits for queued and running jobs by
/// default before it kills the workers: 60 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

struct PendingJob {
    request: Vec<u8>,
    reply: oneshot::Sender<Result<Vec<u8>, ProcessError>>,
    /// Set when the submitter stops waiting (its future was dropped): the
    /// job is skipped, or its worker killed if it already runs.
    abandoned: Rc<Event>,
}

/// Sets the job's `abandoned` event when the `submit` future goes away.
struct AbandonOnDrop(Rc<Event>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

struct PoolInner {
    max_workers: usize,
    command: WorkerCommand,
    queue: Queue<PendingJob>,
    started: Cell<bool>,
    workers: RefCell<Vec<Task<()>>>,
    job_timeout: Cell<Option<Duration>>,
    shutdown_timeout: Cell<Option<Duration>>,
}

/// A pool of worker processes: real parallelism on every core, and
/// isolation (a crashing job takes down only its worker).
///
/// Needs [`worker_main`] called first thing in `main` with every job the
/// pool may run. A worker that dies fails its job with
/// [`ProcessError::WorkerCrashed`] and is replaced; other jobs are
/// unaffected. Workers exit when the pool shuts down or is dropped, and when
/// the parent process dies; they are always reaped (no zombies). A worker
/// that dies while idle is reported to the loop's exception handler and
/// replaced at the next job.
///
/// A job that hangs cannot wedge the pool: with a
/// [`job_timeout`](ProcessPool::job_timeout) its worker is killed (and
/// replaced) when the job runs too long, and dropping a `submit` future (or
/// timing it out with [`timeout`](crate::timeout)) kills the worker running
/// that job. [`shutdown`](ProcessPool::shutdown) returns within its
/// [`shutdown_timeout`](ProcessPool::shutdown_timeout).
///
/// ```no_run
/// use corio::executor::{worker_main, Job, ProcessPool};
/// fn fib(n: u64) -> u64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }
/// static FIB: Job<u64, u64> = Job::new("fib", fib);
///
/// fn main() {
///     worker_main(&[&FIB]);
///     corio::run(async {
///         let pool = ProcessPool::new(4);
///         let results = pool.map(&FIB, [30, 31, 32, 33]).await;
///         println!("{:?}", results);
///         pool.shutdown().await;
///     });
/// }
/// ```
pub struct ProcessPool {
    inner: Rc<PoolInner>,
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("max_workers", &self.inner.max_workers)
            .field("queued", &self.inner.queue.qsize())
            .finish()
    }
}

impl ProcessPool {
    /// A pool of at most `max_workers` processes (started on first use).
    ///
    /// Panics if `max_workers` is zero or this executable's path is unknown.
    pub fn new(max_workers: usize) -> ProcessPool {
        let program =
            std::env::current_exe().expect("ProcessPool: cannot find this executable's path");
        ProcessPool::with_program(max_workers, program, Vec::<OsString>::new())
    }

    /// A pool with one worker per core (Python's default).
    pub fn with_default_workers() -> ProcessPool {
        ProcessPool::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// A pool whose workers run `program args...` (which must call
    /// [`worker_main`]), for a worker binary other than this one.
    ///
    /// Panics if `max_workers` is zero.
    pub fn with_program<I, S>(
        max_workers: usize,
        program: impl Into<PathBuf>,
        args: I,
    ) -> ProcessPool
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        assert!(
            max_workers > 0,
            "ProcessPool: max_workers must be at least 1"
        );
        ProcessPool {
            inner: Rc::new(PoolInner {
                max_workers,
                command: WorkerCommand {
                    program: program.into(),
                    args: args.into_iter().map(Into::into).collect(),
                },
                queue: Queue::new(0),
                started: Cell::new(false),
                workers: RefCell::new(Vec::new()),
                job_timeout: Cell::new(None),
                shutdown_timeout: Cell::new(Some(DEFAULT_SHUTDOWN_TIMEOUT)),
            }),
        }
    }

    /// Bounds how long one job may run in its worker (none by default):
    /// past it the worker is killed and replaced, and the job fails with
    /// [`ProcessError::TimedOut`]. Time spent queued does not count.
    pub fn job_timeout(self, limit: Option<Duration>) -> ProcessPool {
        self.inner.job_timeout.set(limit);
        self
    }

    /// Bounds how long [`shutdown`](ProcessPool::shutdown) waits for the
    /// queued and running jobs before it kills the workers
    /// ([`DEFAULT_SHUTDOWN_TIMEOUT`], 60 s; `None` waits for ever).
    pub fn shutdown_timeout(self, limit: Option<Duration>) -> ProcessPool {
        self.inner.shutdown_timeout.set(limit);
        self
    }

    /// The most worker processes this pool runs.
    pub fn max_workers(&self) -> usize {
        self.inner.max_workers
    }

    /// Runs `job(arg)` in a worker process.
    ///
    /// Dropping the future (or timing it out) cancels the job: a queued job
    /// is skipped, and the worker running a started one is killed and
    /// replaced (a process cannot be interrupted in the middle of a job
    /// any other way).
    ///
    /// Panics if no loop is running on this thread.
    pub async fn submit<A, R>(&self, job: &Job<A, R>, arg: A) -> Result<R, ProcessError>
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        let arg = postcard::to_stdvec(&arg).map_err(|e| {
            ProcessError::Serialization(format!(
                "cannot encode the argument of job '{}': {e}",
                job.name()
            ))
        })?;
        let request = postcard::to_stdvec(&Request {
            job: job.name().to_owned(),
            arg,
        })
        .map_err(|e| ProcessError::Serialization(e.to_string()))?;
        self.start_workers();
        let (reply, answer) = oneshot::channel(None);
        let abandoned = Rc::new(Event::new());
        let _abandon = AbandonOnDrop(abandoned.clone());
        if self
            .inner
            .queue
            .put_nowait(PendingJob {
                request: frame(&request),
                reply,
                abandoned,
            })
            .is_err()
        {
            return Err(ProcessError::ShutDown);
        }
        let payload = answer.await.unwrap_or(Err(ProcessError::ShutDown))?;
        postcard::from_bytes(&payload).map_err(|e| {
            ProcessError::Serialization(format!(
                "cannot decode the result of job '{}': {e}",
                job.name()
            ))
        })
    }

    /// Runs `job` on every argument, in parallel across the workers; the
    /// results in argument order.
    pub async fn map<A, R, I>(&self, job: &Job<A, R>, args: I) -> Vec<Result<R, ProcessError>>
    where
        I: IntoIterator<Item = A>,
        A: Serialize,
        R: DeserializeOwned,
    {
        crate::gather_all(args.into_iter().map(|arg| self.submit(job, arg))).await
    }

    fn start_workers(&self) {
        if self.inner.started.replace(true) {
            return;
        }
        let tasks = (0..self.inner.max_workers)
            .map(|i| {
                crate::spawn_named(
                    format!("corio process-pool worker {i}"),
                    serve_jobs(self.inner.clone()),
                )
            })
            .collect();
        *self.inner.workers.borrow_mut() = tasks;
    }

    /// Stops taking jobs, lets the queued and running ones finish, then
    /// closes every worker and reaps it. Waits at most the
    /// [`shutdown_timeout`](ProcessPool::shutdown_timeout) (60 s by
    /// default): then the jobs still queued fail with
    /// [`ProcessError::ShutDown`] and the workers still busy are killed.
    pub async fn shutdown(&self) {
        self.inner.queue.shutdown(false);
        let mut workers: Vec<Task<()>> = self.inner.workers.borrow_mut().drain(..).collect();
        let all_done = async {
            for worker in workers.iter_mut() {
                let _ = worker.await;
            }
        };
        let finished = match self.inner.shutdown_timeout.get() {
            Some(limit) => crate::timeout(limit, all_done).await.is_ok(),
            None => {
                all_done.await;
                true
            }
        };
        if !finished {
            self.inner.queue.shutdown(true);
            for worker in &workers {
                // Drops the worker's process handle: killed and reaped.
                crate::task::cancel_now(worker);
            }
        }
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        // Queued jobs fail with ShutDown; running workers are killed and reaped.
        self.inner.queue.shutdown(true);
        for task in self.inner.workers.borrow_mut().drain(..) {
            crate::task::cancel_now(&task);
        }
    }
}

/// How one job's run in a worker ended.
enum Outcome {
    Answer(Result<Vec<u8>, CallError>),
    Abandoned,
    TimedOut(Duration),
}

/// Ready after `limit`; never without one.
async fn expire(limit: Option<Duration>) -> Duration {
    match limit {
        Some(limit) => {
            crate::sleep(limit).await;
            limit
        }
        None => std::future::pending().await,
    }
}

/// The next job; meanwhile, a worker that dies while idle is reaped and
/// reported (it is replaced when a job comes). `None` once shut down.
async fn next_job(inner: &PoolInner, process: &mut Option<WorkerProcess>) -> Option<PendingJob> {
    loop {
        let Some(worker) = process.as_mut() else {
            return inner.queue.get().await.ok();
        };
        match crate::select(inner.queue.get(), worker.exited()).await {
            Either::Left(job) => return job.ok(),
            Either::Right(()) => {
                let pid = worker.pid();
                let status = process.take().and_then(|mut p| p.kill_and_reap());
                crate::runtime::report(format!(
                    "process-pool worker {} exited while idle ({}); a new one starts with \
                     the next job",
                    pid.map_or_else(|| "?".to_owned(), |p| p.to_string()),
                    status.map_or_else(|| "status unknown".to_owned(), |s| s.to_string()),
                ));
            }
        }
    }
}

/// One worker slot: takes jobs from the queue, runs each in its process,
/// restarting the process when it dies, runs too long or its job is
/// abandoned.
async fn serve_jobs(inner: Rc<PoolInner>) {
    let mut process: Option<WorkerProcess> = None;
    while let Some(job) = next_job(&inner, &mut process).await {
        if job.abandoned.is_set() {
            continue; // nobody waits for it any more
        }
        let mut retried = false;
        let result = loop {
            if process.is_none() {
                match WorkerProcess::start(&inner.command).await {
                    Ok(p) => process = Some(p),
                    Err(e) => break Some(Err(e)),
                }
            }
            let worker = process.as_mut().expect("started above");
            let stop = crate::select(job.abandoned.wait(), expire(inner.job_timeout.get()));
            let outcome = match crate::select(worker.call(&job.request), stop).await {
                Either::Left(answer) => Outcome::Answer(answer),
                Either::Right(Either::Left(())) => Outcome::Abandoned,
                Either::Right(Either::Right(limit)) => Outcome::TimedOut(limit),
            };
            match outcome {
                Outcome::Answer(Ok(payload)) => break Some(decode(&payload)),
                Outcome::Answer(Err(CallError::NotDelivered)) if !retried => {
                    // It died while idle: the job never reached it. Retry once on a new one.
                    retried = true;
                    process.take().map(|mut p| p.kill_and_reap());
                }
                Outcome::Answer(Err(_)) => {
                    let status = process.take().and_then(|mut p| p.kill_and_reap());
                    break Some(Err(ProcessError::WorkerCrashed { status }));
                }
                Outcome::Abandoned => {
                    process.take().map(|mut p| p.kill_and_reap());
                    break None;
                }
                Outcome::TimedOut(limit) => {
                    process.take().map(|mut p| p.kill_and_reap());
                    break Some(Err(ProcessError::TimedOut(limit)));
                }
            }
        };
        if let Some(result) = result {
            let _ = job.reply.send(result);
        }
    }
    if let Some(process) = process {
        process.close().await;
    }
}

fn decode(payload: &[u8]) -> Result<Vec<u8>, ProcessError> {
    let response: Response = postcard::from_bytes(payload)
        .map_err(|e| ProcessError::Serialization(format!("bad answer from worker: {e}")))?;
    response.result.map_err(|failure| match failure {
        JobFailure::Panicked(message) => ProcessError::Panicked(message),
        JobFailure::UnknownJob(name) => ProcessError::UnknownJob(name),
        JobFailure::BadArgument(message) | JobFailure::BadResult(message) => {
            ProcessError::Serialization(message)
        }
    })
}
