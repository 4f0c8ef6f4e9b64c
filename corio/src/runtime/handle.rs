//! `LoopHandle`: the `Send + Sync` way into a loop from other threads
//! (asyncio's `call_soon_threadsafe` and `run_coroutine_threadsafe`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use super::context;
use super::shared::{Injected, Shared};
use crate::task::{CatchUnwind, TaskError};

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
            .inject(Injected::Call(Box::new(f)))
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
        let state = Arc::new(RemoteState {
            slot: Mutex::new(Slot::Pending(None)),
            done: Condvar::new(),
        });
        let completer = Completer {
            state: state.clone(),
        };
        self.call_soon_threadsafe(move || {
            crate::task::spawn(async move {
                let result = CatchUnwind::new(future).await.map_err(TaskError::Panicked);
                completer.complete(result);
            })
            .detach();
        })?;
        Ok(RemoteTask { state })
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

enum Slot<T> {
    Pending(Option<Waker>),
    Done(Result<T, TaskError>),
    Taken,
}

struct RemoteState<T> {
    slot: Mutex<Slot<T>>,
    done: Condvar,
}

/// Completes a `RemoteTask`; dropped unfinished (the loop closed, or the
/// task was cancelled) it completes it as cancelled.
struct Completer<T> {
    state: Arc<RemoteState<T>>,
}

impl<T> Completer<T> {
    fn complete(&self, result: Result<T, TaskError>) {
        let mut slot = self
            .state
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !matches!(*slot, Slot::Pending(_)) {
            return;
        }
        if let Slot::Pending(waker) = std::mem::replace(&mut *slot, Slot::Done(result)) {
            drop(slot);
            self.state.done.notify_all();
            waker.into_iter().for_each(Waker::wake);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        self.complete(Err(TaskError::Cancelled));
    }
}

/// A future spawned from another thread with [`LoopHandle::spawn`].
pub struct RemoteTask<T> {
    state: Arc<RemoteState<T>>,
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
        let mut slot = self
            .state
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            match std::mem::replace(&mut *slot, Slot::Taken) {
                Slot::Done(result) => return result,
                Slot::Taken => panic!("RemoteTask result already taken"),
                pending => *slot = pending,
            }
            slot = self
                .state
                .done
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<T> Future for RemoteTask<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self
            .state
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done(result) => Poll::Ready(result),
            Slot::Pending(_) => {
                *slot = Slot::Pending(Some(cx.waker().clone()));
                Poll::Pending
            }
            Slot::Taken => panic!("RemoteTask polled after it completed"),
        }
    }
}

impl<T> std::fmt::Debug for RemoteTask<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteTask")
    }
}
