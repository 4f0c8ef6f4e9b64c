//! Jobs a worker process may run: typed on the parent side, erased for the
//! worker's registry.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A function the process pool may run in a worker: a name (the key the
/// worker looks it up by) and a plain `fn(A) -> R` whose argument and result
/// cross the pipe with serde.
///
/// ```
/// use corio::executor::Job;
/// fn square(n: u64) -> u64 { n * n }
/// static SQUARE: Job<u64, u64> = Job::new("square", square);
/// ```
pub struct Job<A, R> {
    name: &'static str,
    f: fn(A) -> R,
}

impl<A, R> Job<A, R> {
    /// A job named `name` running `f`. Names must be unique among the jobs
    /// given to [`worker_main`](super::worker_main).
    pub const fn new(name: &'static str, f: fn(A) -> R) -> Job<A, R> {
        Job { name, f }
    }

    /// The job's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<A, R> std::fmt::Debug for Job<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("name", &self.name).finish()
    }
}

/// Why a job failed inside its worker (sent back to the parent).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) enum JobFailure {
    Panicked(String),
    UnknownJob(String),
    BadArgument(String),
    BadResult(String),
}

/// A job with its types erased, as a worker's registry holds it.
pub trait RegisteredJob: Sync {
    /// The job's name.
    fn name(&self) -> &'static str;
    /// Decodes the argument, runs the job, encodes the result.
    #[doc(hidden)]
    fn call(&self, arg: &[u8]) -> Result<Vec<u8>, String>;
}

impl<A: DeserializeOwned, R: Serialize> RegisteredJob for Job<A, R> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn call(&self, arg: &[u8]) -> Result<Vec<u8>, String> {
        let arg: A = postcard::from_bytes(arg)
            .map_err(|e| format!("bad argument for job '{}': {e}", self.name))?;
        let result = (self.f)(arg);
        postcard::to_stdvec(&result)
            .map_err(|e| format!("cannot encode the result of job '{}': {e}", self.name))
    }
}
