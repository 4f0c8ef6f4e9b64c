//! `Barrier`: wait until `n` tasks arrive.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_list::{wake_all, WaitKey, WaitList};

/// The barrier was aborted or reset while (or before) waiting (asyncio's
/// `BrokenBarrierError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokenBarrier;

impl std::fmt::Display for BrokenBarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the barrier is broken (aborted or reset)")
    }
}

impl std::error::Error for BrokenBarrier {}

struct State {
    parties: usize,
    arrived: usize,
    broken: bool,
    /// Woken with `true` when the barrier filled, `false` when broken.
    waiters: WaitList<bool>,
}

/// asyncio's `Barrier`: each `wait` blocks until `parties` tasks are waiting,
/// then all return together, each with its arrival index (`0..parties`).
/// The barrier is then ready for the next round.
///
/// [`abort`](Barrier::abort) breaks it for good: waiters and later callers
/// get [`BrokenBarrier`]. [`reset`](Barrier::reset) fails the current waiters
/// and starts a fresh round. **Cancellation:** a waiter dropped before the
/// barrier filled takes back its arrival (as asyncio); one dropped after the
/// barrier filled changes nothing for the others.
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Barrier;
/// corio::run(async {
///     let barrier = Rc::new(Barrier::new(3));
///     let tasks: Vec<_> = (0..3).map(|_| {
///         let b = barrier.clone();
///         corio::spawn(async move { b.wait().await.unwrap() })
///     }).collect();
///     let mut indices: Vec<usize> = corio::gather_all(tasks).await.into_iter().map(Result::unwrap).collect();
///     indices.sort();
///     assert_eq!(indices, [0, 1, 2]);
/// });
/// ```
pub struct Barrier {
    state: RefCell<State>,
}

impl Barrier {
    /// A barrier for `parties` tasks.
    ///
    /// Panics if `parties` is zero.
    pub fn new(parties: usize) -> Barrier {
        assert!(parties > 0, "Barrier::new: parties must be at least 1");
        Barrier {
            state: RefCell::new(State {
                parties,
                arrived: 0,
                broken: false,
                waiters: WaitList::default(),
            }),
        }
    }

    /// Waits for the round to fill; returns this task's arrival index.
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            waiting: None,
        }
    }

    /// Breaks the barrier: current and future waiters get [`BrokenBarrier`].
    pub fn abort(&self) {
        let wakers = {
            let mut state = self.state.borrow_mut();
            state.broken = true;
            state.arrived = 0;
            state.waiters.wake_all(false)
        };
        wake_all(wakers);
    }

    /// Fails the current waiters with [`BrokenBarrier`] and starts an empty
    /// round (also mends an aborted barrier).
    pub fn reset(&self) {
        let wakers = {
            let mut state = self.state.borrow_mut();
            state.broken = false;
            state.arrived = 0;
            state.waiters.wake_all(false)
        };
        wake_all(wakers);
    }

    /// Tasks the barrier releases at once.
    pub fn parties(&self) -> usize {
        self.state.borrow().parties
    }

    /// Tasks waiting in the current round.
    pub fn n_waiting(&self) -> usize {
        self.state.borrow().arrived
    }

    /// Whether the barrier was aborted.
    pub fn is_broken(&self) -> bool {
        self.state.borrow().broken
    }
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("Barrier")
            .field("parties", &state.parties)
            .field("waiting", &state.arrived)
            .field("broken", &state.broken)
            .finish()
    }
}

/// The future of [`Barrier::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    /// (place in line, arrival index) once arrived.
    waiting: Option<(WaitKey, usize)>,
}

impl Future for BarrierWait<'_> {
    type Output = Result<usize, BrokenBarrier>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let barrier = self.barrier;
        let mut state = barrier.state.borrow_mut();
        if let Some((key, index)) = self.waiting {
            return match state.waiters.poll_woken(key, cx.waker()) {
                Some(filled) => {
                    self.waiting = None;
                    Poll::Ready(if filled {
                        Ok(index)
                    } else {
                        Err(BrokenBarrier)
                    })
                }
                None => Poll::Pending,
            };
        }
        if state.broken {
            return Poll::Ready(Err(BrokenBarrier));
        }
        let index = state.arrived;
        state.arrived += 1;
        if state.arrived == state.parties {
            state.arrived = 0;
            let wakers = state.waiters.wake_all(true);
            drop(state);
            wake_all(wakers);
            return Poll::Ready(Ok(index));
        }
        self.waiting = Some((state.waiters.push_back(cx.waker()), index));
        Poll::Pending
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Some((key, _)) = self.waiting.take() {
            let mut state = self.barrier.state.borrow_mut();
            if state.waiters.remove(key).is_none() {
                // Left before the round filled: take back the arrival.
                state.arrived -= 1;
            }
        }
    }
}

impl std::fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarrierWait").finish_non_exhaustive()
    }
}
