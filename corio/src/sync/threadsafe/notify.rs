//! The thread-safe [`Notify`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use slab::Slab;

/// [`sync::Notify`](crate::sync::Notify)'s semantics for tasks on any
/// threads and loops: `Send + Sync`, share it through an `Arc`. Costs a
/// lock per call where the loop-local one costs none.
///
/// ```
/// use std::sync::Arc;
/// corio::run(async {
///     let notify = Arc::new(corio::sync::threadsafe::Notify::new());
///     let n = notify.clone();
///     std::thread::spawn(move || n.notify_one());
///     notify.notified().await;
/// });
/// ```
#[derive(Debug, Default)]
pub struct Notify {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    permit: bool,
    generation: u64,
    /// Parked waiters, oldest first: slot in `waiters`.
    line: std::collections::VecDeque<usize>,
    waiters: Slab<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    waker: Waker,
    /// `Some(true)`: chosen by `notify_one`; `Some(false)`: woken by
    /// `notify_waiters`.
    woken: Option<bool>,
}

impl Notify {
    /// A `Notify` with no stored permit.
    pub fn new() -> Notify {
        Notify::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the longest-waiting task, or stores one permit for the next.
    pub fn notify_one(&self) {
        let waker = {
            let mut state = self.lock();
            Self::choose_one(&mut state)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn choose_one(state: &mut State) -> Option<Waker> {
        while let Some(slot) = state.line.pop_front() {
            if let Some(waiter) = state.waiters.get_mut(slot) {
                if waiter.woken.is_none() {
                    waiter.woken = Some(true);
                    return Some(waiter.waker.clone());
                }
            }
        }
        state.permit = true;
        None
    }

    /// Wakes every task waiting now; stores no permit.
    pub fn notify_waiters(&self) {
        let wakers: Vec<Waker> = {
            let mut state = self.lock();
            state.generation += 1;
            state.line.clear();
            state
                .waiters
                .iter_mut()
                .filter(|(_, w)| w.woken.is_none())
                .map(|(_, w)| {
                    w.woken = Some(false);
                    w.waker.clone()
                })
                .collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Completes when this task is notified.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.lock().generation,
            slot: None,
            done: false,
        }
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Notified<'a> {
    notify: &'a Notify,
    generation: u64,
    slot: Option<usize>,
    done: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(());
        }
        let mut state = this.notify.lock();
        if let Some(slot) = this.slot {
            let waiter = &mut state.waiters[slot];
            if waiter.woken.is_some() {
                state.waiters.remove(slot);
                this.slot = None;
                this.done = true;
                return Poll::Ready(());
            }
            if !waiter.waker.will_wake(cx.waker()) {
                waiter.waker = cx.waker().clone();
            }
            return Poll::Pending;
        }
        if state.generation != this.generation || std::mem::take(&mut state.permit) {
            this.done = true;
            return Poll::Ready(());
        }
        let slot = state.waiters.insert(Waiter {
            waker: cx.waker().clone(),
            woken: None,
        });
        state.line.push_back(slot);
        this.slot = Some(slot);
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let waker = {
            let mut state = self.notify.lock();
            let waiter = state.waiters.remove(slot);
            if waiter.woken.is_none() {
                // Out of the line too, before its slot is reused.
                state.line.retain(|&s| s != slot);
            }
            if waiter.woken == Some(true) {
                // Chosen by `notify_one` but never resumed: pass it on.
                Notify::choose_one(&mut state)
            } else {
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}
