//! The worker side: `worker_main` turns this process into a job server when
//! the pool started it.

use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::job::{JobFailure, RegisteredJob};
use super::protocol::{frame, Request, Response, GREETING, MAX_FRAME, PARENT_ENV, WORKER_ENV};

/// The init hook of the process pool: call it first thing in `main`, with
/// every job the pool may run.
///
/// In the program the user started it returns at once. In a worker process
/// (the same executable, started again by a [`ProcessPool`](super::ProcessPool))
/// it serves jobs until the pool closes the pipe, then exits the process —
/// it never returns there.
///
/// ```no_run
/// use corio::executor::{worker_main, Job, ProcessPool};
/// fn square(n: u64) -> u64 { n * n }
/// static SQUARE: Job<u64, u64> = Job::new("square", square);
///
/// fn main() {
///     worker_main(&[&SQUARE]);
///     corio::run(async {
///         let pool = ProcessPool::new(2);
///         assert_eq!(pool.submit(&SQUARE, 7).await.unwrap(), 49);
///     });
/// }
/// ```
pub fn worker_main(jobs: &[&dyn RegisteredJob]) {
    if std::env::var_os(WORKER_ENV).is_none() {
        return;
    }
    let code = match serve(jobs) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("corio worker {}: {e}", std::process::id());
            1
        }
    };
    std::process::exit(code);
}

fn serve(jobs: &[&dyn RegisteredJob]) -> io::Result<()> {
    die_with_parent();
    let (mut input, mut output) = protocol_pipes()?;
    output.write_all(GREETING)?;
    output.flush()?;
    let mut len = [0u8; 4];
    loop {
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()), // the pool closed us
            Err(e) => return Err(e),
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "oversized frame",
            ));
        }
        let mut payload = vec![0u8; len];
        input.read_exact(&mut payload)?;
        let response = match postcard::from_bytes::<Request>(&payload) {
            Ok(request) => Response {
                result: run(jobs, &request),
            },
            Err(e) => Response {
                result: Err(JobFailure::BadArgument(format!("bad request: {e}"))),
            },
        };
        let encoded = postcard::to_stdvec(&response).map_err(io::Error::other)?;
        output.write_all(&frame(&encoded))?;
        output.flush()?;
    }
}

fn run(jobs: &[&dyn RegisteredJob], request: &Request) -> Result<Vec<u8>, JobFailure> {
    let Some(job) = jobs.iter().find(|j| j.name() == request.job) else {
        return Err(JobFailure::UnknownJob(request.job.clone()));
    };
    match catch_unwind(AssertUnwindSafe(|| job.call(&request.arg))) {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(message)) if message.starts_with("bad argument") => {
            Err(JobFailure::BadArgument(message))
        }
        Ok(Err(message)) => Err(JobFailure::BadResult(message)),
        Err(payload) => Err(JobFailure::Panicked(
            crate::task::panic_message(&*payload).to_owned(),
        )),
    }
}

/// Exit if the parent dies (SIGKILL from the kernel), and exit now if it
/// already did before we got here.
fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets this process's death signal.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    let expected = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    if expected.is_some_and(|p| p != parent) {
        std::process::exit(1);
    }
}

/// The protocol runs on the original stdin/stdout. Job code that prints to
/// stdout must not corrupt it, so stdout (fd 1) is pointed at stderr and the
/// protocol keeps a private copy of the original.
fn protocol_pipes() -> io::Result<(std::fs::File, std::fs::File)> {
    // SAFETY: dup/dup2 on the standard descriptors, which exist in a worker
    // (the pool started it with piped stdin/stdout); the new descriptor is
    // owned by the returned File alone.
    unsafe {
        let out = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if out < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::dup2(2, 1) < 0 {
            return Err(io::Error::last_os_error());
        }
        let output = std::fs::File::from(OwnedFd::from_raw_fd(out));
        let input = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3);
        if input < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((std::fs::File::from(OwnedFd::from_raw_fd(input)), output))
    }
}
