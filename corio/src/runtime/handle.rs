//! `LoopHandle`: the `Send + Sync` way into a loop from other threads
//! (asyncio's `call_soon_threadsafe` and `run_coroutine_threadsafe`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::context;
use super::runnable::ForeignCall;
use super::shared::{Injected, Shared};
use super::task::Task;
use super::task::{oneshot, CatchUnwind, TaskError};

/// The loop was closed (its `Runtime` dropped): it takes no more work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopClosed;

impl std::fmt::Display for LoopClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the corio loop is closed")
    }
}

impl std::error::Error for LoopClosed {}

/// A handle to a loop that any thread may hold: schedule callbacks, spawn
/// `Send` futures, or stop it. Each call wakes the loop at once if it sleeps.
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopHandle")
            .field("loop_id", &self.shared.id)
            .finish()
    }
}

impl LoopHandle {
    /// The handle of the loop running on this thread.
    ///
    /// Panics if no loop is running here.
    #[track_caller]
    pub fn current() -> LoopHandle {
        context::expect_current("LoopHandle::current", |core| LoopHandle {
            shared: core.shared.clone(),
        })
    }

    /// Runs `f` on the loop thread at its next iteration (asyncio's
    /// `call_soon_threadsafe`). A panic in `f` is reported on stderr.
    pub fn call_soon_threadsafe<F: FnOnce() + Send + 'static>(
        &self,
        f: F,
    ) -> Result<(), LoopClosed> {
        self.shared
            .inject(Injected::Call(ForeignCall::new(f)))
            .map_err(|_| LoopClosed)
    }

    /// Spawns a `Send` future on the loop from any thread (asyncio's
    /// `run_coroutine_threadsafe`). The returned [`RemoteTask`] can be
    /// awaited on any executor or waited for with [`RemoteTask::join`].
    pub fn spawn<F>(&self, future: F) -> Result<RemoteTask<F::Output>, LoopClosed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // A task cancelled (or a loop closed) before it finished drops the
        // sender unsent: the remote side sees `Cancelled`.
        let (sender, receiver) = oneshot::channel(None);
        self.call_soon_threadsafe(move || {
            let location = std::panic::Location::caller();
            let task = context::expect_current("LoopHandle::spawn", |core| {
                core.spawn(
                    async move {
                        let _ = sender
                            .send(CatchUnwind::new(future).await.map_err(TaskError::Panicked));
                    },
                    None,
                    location,
                )
            });
            drop(Task::<()>::from_ref(task));
        })?;
        Ok(RemoteTask { receiver })
    }

    /// Asks the loop to stop: `run_forever` returns after its current iteration.
    pub fn stop(&self) {
        self.shared.request_stop();
    }

    /// Whether the loop was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

/// A future spawned from another thread with [`LoopHandle::spawn`].
pub struct RemoteTask<T> {
    receiver: oneshot::Receiver<Result<T, TaskError>>,
}

impl<T> RemoteTask<T> {
    /// Blocks this (non-loop) thread until the task finishes.
    ///
    /// Panics if called on a thread running a corio loop, which it would
    /// block forever; `.await` the task there instead.
    pub fn join(self) -> Result<T, TaskError> {
        if context::with_current(|_| ()).is_some() {
            panic!(
                "RemoteTask::join blocks the thread: on a loop thread, `.await` the task instead"
            );
        }
        self.receiver
            .recv_blocking()
            .unwrap_or(Err(TaskError::Cancelled))
    }
}

impl<T> Future for RemoteTask<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.receiver)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(TaskError::Cancelled)))
    }
}

impl<T> std::fmt::Debug for RemoteTask<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteTask")
    }
}
