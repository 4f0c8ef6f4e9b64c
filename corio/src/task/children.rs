//! A set of futures polled in place, each with its own waker, so that a
//! wake re-polls only the child that was woken (not all n of them).
//! Shared by `gather_all`, `try_gather` and `as_completed`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// Children woken since they were last polled, and the parent to wake.
struct ReadySet {
    indices: Mutex<Vec<usize>>,
    parent: Mutex<Option<Waker>>,
}

struct ChildWaker {
    index: usize,
    queued: AtomicBool,
    set: Arc<ReadySet>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.set
                .indices
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self.index);
            let parent = self
                .set
                .parent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(parent) = parent {
                parent.wake();
            }
        }
    }
}

pub(crate) struct Children<F> {
    /// Boxed once and never reallocated, so each future stays pinned in
    /// place until it is dropped (set to `None`).
    futures: Pin<Box<[Option<F>]>>,
    wakers: Vec<(Arc<ChildWaker>, Waker)>,
    set: Arc<ReadySet>,
    /// Children to poll on the next `poll_next`.
    to_poll: Vec<usize>,
    remaining: usize,
}

impl<F: Future> Children<F> {
    pub(crate) fn new(futures: impl IntoIterator<Item = F>) -> Children<F> {
        let futures: Box<[Option<F>]> = futures.into_iter().map(Some).collect();
        let n = futures.len();
        let set = Arc::new(ReadySet {
            indices: Mutex::new(Vec::new()),
            parent: Mutex::new(None),
        });
        let wakers = (0..n)
            .map(|index| {
                let child = Arc::new(ChildWaker {
                    index,
                    queued: AtomicBool::new(true),
                    set: set.clone(),
                });
                let waker = Waker::from(child.clone());
                (child, waker)
            })
            .collect();
        Children {
            futures: Box::into_pin(futures),
            wakers,
            set,
            to_poll: (0..n).rev().collect(),
            remaining: n,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.futures.len()
    }

    /// Futures not yet finished.
    pub(crate) fn remaining(&self) -> usize {
        self.remaining
    }

    /// The next child to finish: `(index, output)`, or `None` when all did.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, F::Output)>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        {
            let mut parent = self
                .set
                .parent
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !parent.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *parent = Some(cx.waker().clone());
            }
        }
        if self.to_poll.is_empty() {
            let mut woken = self
                .set
                .indices
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut self.to_poll, &mut woken);
            self.to_poll.reverse();
        }
        // Poll only this batch; children woken meanwhile wait for the next
        // call, so a child that wakes itself cannot keep us here forever.
        while let Some(index) = self.to_poll.pop() {
            let (child, waker) = &self.wakers[index];
            child.queued.store(false, Ordering::Release);
            // SAFETY: the slice is pinned; we take a pinned reference to one
            // element and never move it (it is dropped in place below).
            let slot = unsafe { &mut self.futures.as_mut().get_unchecked_mut()[index] };
            let Some(future) = slot.as_mut() else {
                continue;
            };
            // SAFETY: as above, the element never moves.
            let future = unsafe { Pin::new_unchecked(future) };
            if let Poll::Ready(output) = future.poll(&mut Context::from_waker(waker)) {
                *slot = None;
                self.remaining -= 1;
                return Poll::Ready(Some((index, output)));
            }
        }
        if !self
            .set
            .indices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
        {
            // More children woke while we polled: come back after a yield.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
