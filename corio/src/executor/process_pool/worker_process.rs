//! The parent's handle on one worker process: start it, check its
//! greeting, send a job, read the answer, reap it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::protocol::{GREETING, MAX_FRAME, PARENT_ENV, WORKER_ENV};
use super::ProcessError;
use crate::process::{ChildStdin, ChildStdout};

/// How to start a worker: this executable again, unless told otherwise.
#[derive(Clone, Debug)]
pub(crate) struct WorkerCommand {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
}

/// How long a new worker may take to greet us.
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);

const HOOK_HELP: &str =
    "call corio::executor::worker_main(&[...jobs]) first thing in main, so that \
                         the worker process serves jobs instead of running the program";

pub(crate) enum CallError {
    /// The request could not be written: the worker was already gone.
    NotDelivered,
    /// The worker died (or broke the protocol) after taking the request.
    Died,
}

pub(crate) struct WorkerProcess {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

impl WorkerProcess {
    pub(crate) async fn start(command: &WorkerCommand) -> Result<WorkerProcess, ProcessError> {
        let command = command.clone();
        let mut std_command = Command::new(&command.program);
        std_command
            .args(&command.args)
            .env(WORKER_ENV, "1")
            .env(PARENT_ENV, std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = super::spawner::spawn(std_command)
            .await
            .map_err(ProcessError::Io)?;
        let stdin =
            ChildStdin::new(child.stdin.take().expect("piped")).map_err(ProcessError::Io)?;
        let stdout =
            ChildStdout::new(child.stdout.take().expect("piped")).map_err(ProcessError::Io)?;
        let mut worker = WorkerProcess {
            child: Some(child),
            stdin: Some(stdin),
            stdout,
        };
        let mut greeting = [0u8; 16];
        match crate::timeout(GREETING_TIMEOUT, worker.stdout.read_exact(&mut greeting)).await {
            Ok(Ok(())) if &greeting == GREETING => Ok(worker),
            Ok(Ok(())) => Err(ProcessError::WorkerStart(format!(
                "it wrote {:?} instead of the worker greeting: {HOOK_HELP}",
                String::from_utf8_lossy(&greeting)
            ))),
            Ok(Err(_)) => {
                let status = worker.kill_and_reap();
                let status = status.map_or_else(String::new, |s| format!(" ({s})"));
                Err(ProcessError::WorkerStart(format!(
                    "it exited before greeting{status}: {HOOK_HELP}"
                )))
            }
            Err(_) => Err(ProcessError::WorkerStart(format!(
                "no greeting within {GREETING_TIMEOUT:?}: {HOOK_HELP}"
            ))),
        }
    }

    /// Sends one framed request and returns the answer's payload.
    pub(crate) async fn call(&mut self, request: &[u8]) -> Result<Vec<u8>, CallError> {
        let stdin = self.stdin.as_mut().ok_or(CallError::NotDelivered)?;
        stdin
            .write_all(request)
            .await
            .map_err(|_| CallError::NotDelivered)?;
        let mut len = [0u8; 4];
        self.stdout
            .read_exact(&mut len)
            .await
            .map_err(|_| CallError::Died)?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(CallError::Died);
        }
        let mut payload = vec![0u8; len];
        self.stdout
            .read_exact(&mut payload)
            .await
            .map_err(|_| CallError::Died)?;
        Ok(payload)
    }

    /// Waits until the worker's answer pipe closes: it died (or was killed)
    /// while idle. Any byte it sends unasked is a protocol error, and ends
    /// the wait too.
    pub(crate) async fn exited(&mut self) {
        let mut byte = [0u8; 1];
        let _ = self.stdout.read_exact(&mut byte).await;
    }

    /// The worker's pid (`None` once reaped).
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the worker and reaps it (no zombie); its exit status.
    pub(crate) fn kill_and_reap(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = child.kill();
        // After SIGKILL the wait is immediate.
        child.wait().ok()
    }

    /// Closes the pipe (the worker exits at EOF) and reaps it.
    pub(crate) async fn close(mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let reaped = crate::executor::to_thread(move || child.wait()).await;
            drop(reaped);
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}
