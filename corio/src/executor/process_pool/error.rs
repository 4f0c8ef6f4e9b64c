//! Why a process-pool job gave no result.

use std::process::ExitStatus;

/// Why a [`ProcessPool`](super::ProcessPool) job gave no result.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessError {
    /// The worker running the job died (crashed, aborted, killed) —
    /// asyncio's `BrokenProcessPool`. The pool starts a new worker for the
    /// jobs after it.
    WorkerCrashed {
        /// The worker's exit status, if it could be read.
        status: Option<ExitStatus>,
    },
    /// The job panicked in the worker (the worker lives on).
    Panicked(String),
    /// The worker does not know the job: it was not passed to `worker_main`.
    UnknownJob(String),
    /// The worker did not start as a job server.
    WorkerStart(String),
    /// The argument or the result could not cross the pipe.
    Serialization(String),
    /// The job ran longer than the pool's
    /// [`job_timeout`](super::ProcessPool::job_timeout); its worker was
    /// killed and replaced.
    TimedOut(std::time::Duration),
    /// The pool was shut down.
    ShutDown,
    /// Starting or talking to a worker failed.
    Io(std::io::Error),
}

impl std::fmt::Display for ProcessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessError::WorkerCrashed {
                status: Some(status),
            } => {
                write!(
                    f,
                    "the worker process died while running the job ({status})"
                )
            }
            ProcessError::WorkerCrashed { status: None } => {
                f.write_str("the worker process died while running the job")
            }
            ProcessError::Panicked(message) => {
                write!(f, "the job panicked in its worker: {message}")
            }
            ProcessError::UnknownJob(name) => write!(
                f,
                "job '{name}' is not registered in the worker: add it to the jobs passed to \
                 corio::executor::worker_main(&[...]) at the top of main"
            ),
            ProcessError::WorkerStart(why) => write!(f, "the worker process did not start: {why}"),
            ProcessError::Serialization(why) => write!(f, "{why}"),
            ProcessError::TimedOut(limit) => write!(
                f,
                "the job ran longer than the pool's job timeout ({limit:?}); its worker was killed"
            ),
            ProcessError::ShutDown => f.write_str("the process pool was shut down"),
            ProcessError::Io(e) => write!(f, "talking to a worker process failed: {e}"),
        }
    }
}

impl std::error::Error for ProcessError {}

impl From<ProcessError> for std::io::Error {
    fn from(e: ProcessError) -> std::io::Error {
        match e {
            ProcessError::Io(e) => e,
            other => std::io::Error::other(other.to_string()),
        }
    }
}
