//! A pool of worker processes for CPU-bound work (asyncio's
//! `ProcessPoolExecutor`), in the spawn model: workers are this executable
//! started again; [`worker_main`] at the top of `main` makes them serve the
//! registered [`Job`]s. Arguments and results cross pipes with serde
//! (postcard).

mod error;
mod job;
mod protocol;
mod worker;
mod worker_process;

use std::cell::{Cell, RefCell};
use std::ffi::OsString;
use std::path::PathBuf;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::ProcessError;
pub use job::{Job, RegisteredJob};
pub use worker::worker_main;

use self::job::JobFailure;
use self::protocol::{frame, Request, Response};
use self::worker_process::{CallError, WorkerCommand, WorkerProcess};
use crate::queue::Queue;
use crate::task::oneshot;
use crate::task::Task;

struct PendingJob {
    request: Vec<u8>,
    reply: oneshot::Sender<Result<Vec<u8>, ProcessError>>,
}

struct PoolInner {
    max_workers: usize,
    command: WorkerCommand,
    queue: Queue<PendingJob>,
    started: Cell<bool>,
    workers: RefCell<Vec<Task<()>>>,
}

/// A pool of worker processes: real parallelism on every core, and
/// isolation (a crashing job takes down only its worker).
///
/// Needs [`worker_main`] called first thing in `main` with every job the
/// pool may run. A worker that dies fails its job with
/// [`ProcessError::WorkerCrashed`] and is replaced; other jobs are
/// unaffected. Workers exit when the pool shuts down or is dropped, and when
/// the parent process dies; they are always reaped (no zombies).
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
            }),
        }
    }

    /// The most worker processes this pool runs.
    pub fn max_workers(&self) -> usize {
        self.inner.max_workers
    }

    /// Runs `job(arg)` in a worker process. Dropping the future does not
    /// stop a job already queued or running; its result is discarded.
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
        if self
            .inner
            .queue
            .put_nowait(PendingJob {
                request: frame(&request),
                reply,
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

    /// Stops taking jobs, lets the queued ones finish, then closes every
    /// worker and reaps it.
    pub async fn shutdown(&self) {
        self.inner.queue.shutdown(false);
        let workers: Vec<Task<()>> = self.inner.workers.borrow_mut().drain(..).collect();
        for worker in workers {
            let _ = worker.await;
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

/// One worker slot: takes jobs from the queue, runs each in its process,
/// restarting the process when it dies.
async fn serve_jobs(inner: Rc<PoolInner>) {
    let mut process: Option<WorkerProcess> = None;
    while let Ok(job) = inner.queue.get().await {
        let mut retried = false;
        let result = loop {
            if process.is_none() {
                match WorkerProcess::start(&inner.command).await {
                    Ok(p) => process = Some(p),
                    Err(e) => break Err(e),
                }
            }
            let worker = process.as_mut().expect("started above");
            match worker.call(&job.request).await {
                Ok(payload) => break decode(&payload),
                Err(CallError::NotDelivered) if !retried => {
                    // It died while idle: the job never reached it. Retry once on a new one.
                    retried = true;
                    process.take().map(|mut p| p.kill_and_reap());
                }
                Err(_) => {
                    let status = process.take().and_then(|mut p| p.kill_and_reap());
                    break Err(ProcessError::WorkerCrashed { status });
                }
            }
        };
        job.reply.send(result);
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
