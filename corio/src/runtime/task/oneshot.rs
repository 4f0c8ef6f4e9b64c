//! A one-value channel between threads: a worker's result back to a task on
//! the loop (`to_thread`, the process pool), or a remote task's result to
//! the thread that spawned it (`LoopHandle::spawn`), awaited or blocked on.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

enum Slot<T> {
    Empty(Option<Waker>),
    Full(T),
    Taken,
    /// The sender was dropped without sending (the job never ran).
    Dropped,
    /// The receiver was dropped first: a value sent now comes back.
    Closed,
}

struct Shared<T> {
    slot: Mutex<Slot<T>>,
    /// Signalled when the slot is filled or the sender dropped, for
    /// [`Receiver::recv_blocking`].
    done: Condvar,
}

/// Sends the one value; dropping it unsent makes the receiver see `None`.
pub(crate) struct Sender<T> {
    shared: Option<Arc<Shared<T>>>,
    /// Called after the value is stored and its waker woken.
    on_done: Option<Box<dyn FnOnce() + Send>>,
}

/// Receives the one value (`None` if the sender was dropped).
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

pub(crate) fn channel<T>(on_done: Option<Box<dyn FnOnce() + Send>>) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        slot: Mutex::new(Slot::Empty(None)),
        done: Condvar::new(),
    });
    (
        Sender {
            shared: Some(shared.clone()),
            on_done,
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    /// Sends the value; gives it back if the receiver is gone.
    pub(crate) fn send(mut self, value: T) -> Result<(), T> {
        match self.finish(Slot::Full(value)) {
            Some(Slot::Full(value)) => Err(value),
            _ => Ok(()),
        }
    }

    /// Whether the receiver is gone (a value sent now would come back).
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.as_ref().is_some_and(|shared| {
            matches!(
                *shared.slot.lock().unwrap_or_else(PoisonError::into_inner),
                Slot::Closed
            )
        })
    }

    /// Stores `with` and wakes the receiver; returns `with` unstored when
    /// the receiver was already gone.
    fn finish(&mut self, with: Slot<T>) -> Option<Slot<T>> {
        let shared = self.shared.take()?;
        let waker = {
            let mut slot = shared.slot.lock().unwrap_or_else(PoisonError::into_inner);
            if matches!(*slot, Slot::Closed) {
                return Some(with);
            }
            match std::mem::replace(&mut *slot, with) {
                Slot::Empty(waker) => waker,
                _ => None,
            }
        };
        shared.done.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
        // After the wake is queued on the loop, so a paused clock never sees
        // "nothing in flight, nothing queued" in between.
        if let Some(on_done) = self.on_done.take() {
            on_done();
        }
        None
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.finish(Slot::Dropped);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut slot = self
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if matches!(*slot, Slot::Empty(_)) {
            *slot = Slot::Closed;
        }
    }
}

impl<T> Receiver<T> {
    /// Blocks this thread until the value arrives (`None` if the sender was
    /// dropped unsent). Only for threads that run no loop.
    pub(crate) fn recv_blocking(self) -> Option<T> {
        let mut slot = self
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            match std::mem::replace(&mut *slot, Slot::Taken) {
                Slot::Full(value) => return Some(value),
                Slot::Dropped => return None,
                Slot::Taken | Slot::Closed => panic!("oneshot receiver used after it completed"),
                empty @ Slot::Empty(_) => *slot = empty,
            }
            slot = self
                .shared
                .done
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut slot = self
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Full(value) => Poll::Ready(Some(value)),
            Slot::Dropped => Poll::Ready(None),
            Slot::Empty(_) => {
                *slot = Slot::Empty(Some(cx.waker().clone()));
                Poll::Pending
            }
            Slot::Taken | Slot::Closed => panic!("oneshot receiver polled after it completed"),
        }
    }
}
