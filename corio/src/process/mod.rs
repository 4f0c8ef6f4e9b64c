//! Async child processes (asyncio's `create_subprocess_exec` /
//! `create_subprocess_shell`), with piped stdin/stdout/stderr as async
//! streams.
//!
//! Exit is awaited through a pidfd registered with the loop's reactor (no
//! SIGCHLD handler, no thread per child); every child is reaped, also when
//! its `Child` is dropped without waiting.
//!
//! ```
//! use corio::process::Command;
//! corio::run(async {
//!     let out = Command::new("echo").arg("hello").output().await.unwrap();
//!     assert!(out.status.success());
//!     assert_eq!(out.stdout, b"hello\n");
//! });
//! ```

mod pidfd;
mod pipes;

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

pub use pipes::{ChildStderr, ChildStdin, ChildStdout};

use crate::io::Async;

/// A process to start (a `std::process::Command` that spawns into the loop).
#[derive(Debug)]
pub struct Command {
    inner: std::process::Command,
    kill_on_drop: bool,
}

impl Command {
    /// Runs `program` with no arguments yet (asyncio's `create_subprocess_exec`).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            inner: std::process::Command::new(program),
            kill_on_drop: false,
        }
    }

    /// Runs `command` through `/bin/sh -c` (asyncio's `create_subprocess_shell`).
    /// Quote anything that comes from outside.
    pub fn shell(command: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(command);
        cmd
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, value);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Configures standard input (`Stdio::piped()` gives [`Child::stdin`]).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(cfg);
        self
    }

    /// Configures standard output (`Stdio::piped()` gives [`Child::stdout`]).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(cfg);
        self
    }

    /// Configures standard error (`Stdio::piped()` gives [`Child::stderr`]).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stderr(cfg);
        self
    }

    /// Puts the child in process group `pgid`; `0` makes it the leader of a
    /// new group whose id is its pid (asyncio's `process_group=`). Its own
    /// children stay in that group, so [`Child::send_signal_to_group`]
    /// reaches them all.
    pub fn process_group(&mut self, pgid: i32) -> &mut Command {
        std::os::unix::process::CommandExt::process_group(&mut self.inner, pgid);
        self
    }

    /// Starts the child in a new session (`setsid`), the leader of a new
    /// process group and without a controlling terminal (asyncio's
    /// `start_new_session=True`).
    pub fn start_new_session(&mut self, new_session: bool) -> &mut Command {
        if new_session {
            // SAFETY: the closure runs in the forked child before exec and
            // calls only setsid(2), which is async-signal-safe and touches
            // no memory of the parent.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut self.inner, || {
                    if libc::setsid() < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        self
    }

    /// Kill the child (SIGKILL) if its [`Child`] is dropped while it runs.
    /// Off by default: a dropped child runs on and is reaped when it exits.
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.kill_on_drop = kill;
        self
    }

    /// Starts the process. A missing program is `ErrorKind::NotFound`.
    ///
    /// Panics if no loop is running on this thread.
    pub fn spawn(&mut self) -> io::Result<Child> {
        let mut child = self.inner.spawn()?;
        let exit = match pidfd::open(child.id())? {
            Some(fd) => Some(Async::new(fd)?),
            None => None,
        };
        Ok(Child {
            stdin: child.stdin.take().map(ChildStdin::new).transpose()?,
            stdout: child.stdout.take().map(ChildStdout::new).transpose()?,
            stderr: child.stderr.take().map(ChildStderr::new).transpose()?,
            inner: Some(child),
            exit,
            status: None,
            kill_on_drop: self.kill_on_drop,
        })
    }

    /// Runs the process to the end, capturing stdout and stderr (stdin is
    /// empty unless configured).
    pub async fn output(&mut self) -> io::Result<Output> {
        self.inner.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.spawn()?.communicate(&[]).await
    }

    /// Runs the process to the end; its exit status.
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait().await
    }
}

/// A running child process.
#[derive(Debug)]
pub struct Child {
    /// Its stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// Its stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// Its stderr, if piped.
    pub stderr: Option<ChildStderr>,
    inner: Option<std::process::Child>,
    /// Readable once the child exits.
    exit: Option<Async<OwnedFd>>,
    status: Option<ExitStatus>,
    kill_on_drop: bool,
}

impl Child {
    /// The process id (`None` once reaped).
    pub fn id(&self) -> Option<u32> {
        match self.status {
            Some(_) => None,
            None => self.inner.as_ref().map(|c| c.id()),
        }
    }

    fn child(&mut self) -> &mut std::process::Child {
        self.inner
            .as_mut()
            .expect("Child used after it was dropped")
    }

    /// Sends SIGKILL (asyncio's `kill`). Does nothing once the child was reaped.
    pub fn kill(&mut self) -> io::Result<()> {
        self.send_signal(libc::SIGKILL)
    }

    /// Sends SIGTERM (asyncio's `terminate`).
    pub fn terminate(&mut self) -> io::Result<()> {
        self.send_signal(libc::SIGTERM)
    }

    /// Sends `signal` (asyncio's `send_signal`).
    pub fn send_signal(&mut self, signal: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let pid = self.child().id() as libc::pid_t;
        // SAFETY: kill(2) with the pid of our own unreaped child: the pid
        // cannot have been reused, since a zombie keeps it.
        if unsafe { libc::kill(pid, signal) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends `signal` to the child's whole process group: the child and
    /// every process it started that stayed in its group (a shell's
    /// pipeline, say). The child must lead its own group
    /// ([`Command::process_group`]`(0)` or [`Command::start_new_session`]);
    /// otherwise this is `ErrorKind::InvalidInput` (signalling the group it
    /// shares with its parent would hit the parent too). Does nothing once
    /// the child was reaped.
    pub fn send_signal_to_group(&mut self, signal: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let pid = self.child().id() as libc::pid_t;
        // SAFETY: getpgid(2) reads the group of our own unreaped child.
        let pgid = unsafe { libc::getpgid(pid) };
        if pgid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pgid != pid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "send_signal_to_group: the child does not lead its own process group; \
                 start it with Command::process_group(0) or Command::start_new_session(true)",
            ));
        }
        // SAFETY: killpg(2) on the group our unreaped child leads (its pid,
        // kept by the zombie until we reap it, names the group).
        if unsafe { libc::killpg(pgid, signal) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The exit status if the child has exited (reaping it), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let status = self.child().try_wait()?;
        self.status = status;
        Ok(status)
    }

    /// Waits for the child to exit and reaps it (asyncio's `wait`). The loop
    /// keeps running meanwhile. Stdin is not closed first: drop
    /// [`Child::stdin`] if the child waits for EOF.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let child = self
            .inner
            .as_mut()
            .expect("Child used after it was dropped");
        let status = wait_for_exit(child, self.exit.as_ref()).await?;
        self.status = Some(status);
        Ok(status)
    }

    /// Writes `input` to stdin (then closes it), reads stdout and stderr to
    /// the end at the same time, and waits for exit (asyncio's
    /// `communicate`). Doing all three at once means no deadlock however
    /// large the data. A child that exits without reading all its input is
    /// not an error.
    pub async fn communicate(&mut self, input: &[u8]) -> io::Result<Output> {
        let stdin = self.stdin.take();
        let stdout = self.stdout.take();
        let stderr = self.stderr.take();
        let write = async move {
            if let Some(mut stdin) = stdin {
                match stdin.write_all(input).await {
                    Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        };
        let read_out = async move {
            match stdout {
                Some(mut s) => s.read_to_end().await,
                None => Ok(Vec::new()),
            }
        };
        let read_err = async move {
            match stderr {
                Some(mut s) => s.read_to_end().await,
                None => Ok(Vec::new()),
            }
        };
        let (written, stdout, stderr) = crate::gather!(write, read_out, read_err);
        written?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: stdout?,
            stderr: stderr?,
        })
    }

    /// Waits for exit, collecting what is left on stdout and stderr.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        self.stdin = None;
        self.communicate(&[]).await
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        if self.kill_on_drop {
            let _ = self.kill();
        }
        if let Ok(Some(_)) = self.try_wait() {
            return;
        }
        // Still running: reap it when it exits, so it never lingers as a zombie.
        let Some(child) = self.inner.take() else {
            return;
        };
        let mut reaper = ThreadReaper(Some(child));
        let exit = self.exit.take();
        if crate::in_loop() {
            crate::spawn(async move {
                let child = reaper.0.as_mut().expect("set above");
                // Reaped, or an error: either way the reaper's drop sees it.
                let _ = wait_for_exit(child, exit.as_ref()).await;
            })
            .detach();
        }
        // Outside a loop, or if the loop closes first: `reaper` waits on a thread.
    }
}

/// Waits for `child` to exit and reaps it: parked on the pidfd when there is
/// one (the reactor wakes us when the kernel says it exited), otherwise
/// polling with a growing interval.
async fn wait_for_exit(
    child: &mut std::process::Child,
    exit: Option<&Async<OwnedFd>>,
) -> io::Result<ExitStatus> {
    let mut backoff = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        match exit {
            Some(pidfd) => {
                pidfd.readable().await?;
                pidfd.clear_readable();
            }
            None => {
                // No pidfd (old kernel): poll with a growing interval.
                crate::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(100));
            }
        }
    }
}

/// Reaps a child on a thread when dropped before it was reaped.
struct ThreadReaper(Option<std::process::Child>);

impl Drop for ThreadReaper {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            if matches!(child.try_wait(), Ok(None)) {
                std::thread::spawn(move || child.wait());
            }
        }
    }
}
