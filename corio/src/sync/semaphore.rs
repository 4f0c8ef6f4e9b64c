//! `Semaphore` and `BoundedSemaphore`, with RAII permits.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::wait_list::{WaitKey, WaitList};
use crate::coop;

struct State {
    permits: usize,
    waiters: WaitList,
}

/// A counter of permits; `acquire` waits while none is free (asyncio's
/// `Semaphore`). Waiters are served in arrival order: a released permit goes
/// straight to the first waiter, so a newcomer cannot overtake the line.
///
/// **Cancellation:** a waiter dropped before it got a permit just leaves the
/// line; one dropped after a permit was handed to it (but before it ran)
/// passes the permit on to the next waiter. No permit is ever lost.
///
/// ```
/// use corio::sync::Semaphore;
/// corio::run(async {
///     let sem = Semaphore::new(2);
///     let a = sem.acquire().await;
///     let _b = sem.acquire().await;
///     assert!(sem.try_acquire().is_none());
///     drop(a);
///     assert_eq!(sem.available_permits(), 1);
/// });
/// ```
pub struct Semaphore {
    state: RefCell<State>,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: RefCell::new(State {
                permits,
                waiters: WaitList::default(),
            }),
        }
    }

    /// Waits for a permit; it is returned when the [`SemaphorePermit`] drops.
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            key: None,
        }
    }

    /// Waits for a permit held through an `Rc`, for tasks that must own it.
    pub async fn acquire_owned(self: &Rc<Self>) -> OwnedSemaphorePermit {
        self.acquire().await.forget();
        OwnedSemaphorePermit {
            semaphore: self.clone(),
        }
    }

    /// A permit if one is free and nobody waits for it.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_take().then(|| SemaphorePermit { semaphore: self })
    }

    fn try_take(&self) -> bool {
        let mut state = self.state.borrow_mut();
        if state.permits > 0 && state.waiters.waiting() == 0 {
            state.permits -= 1;
            true
        } else {
            false
        }
    }

    /// Adds a permit: hands it to the first waiter, or keeps it free.
    /// (Pairs with [`SemaphorePermit::forget`] for asyncio-style explicit
    /// acquire/release.)
    pub fn release(&self) {
        let waker = {
            let mut state = self.state.borrow_mut();
            match state.waiters.wake_one(()) {
                Some(waker) => Some(waker),
                None => {
                    state.permits += 1;
                    None
                }
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A parked `acquire` dropped: it leaves the line, and passes on the
    /// permit it was handed if it was woken. Out of line: the usual drop
    /// finds nothing parked.
    #[inline(never)]
    fn leave_line(&self, key: WaitKey) {
        let handed_a_permit = self.state.borrow_mut().waiters.remove(key).is_some();
        if handed_a_permit {
            self.release();
        }
    }

    /// Free permits.
    pub fn available_permits(&self) -> usize {
        self.state.borrow().permits
    }

    /// Whether `acquire` would wait (asyncio's `locked()`).
    pub fn locked(&self) -> bool {
        let state = self.state.borrow();
        state.permits == 0 || state.waiters.waiting() > 0
    }

    /// Tasks waiting for a permit.
    pub fn waiting(&self) -> usize {
        self.state.borrow().waiters.waiting()
    }
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// The future of [`Semaphore::acquire`].
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    key: Option<WaitKey>,
}

impl<'a> Future for Acquire<'a> {
    type Output = SemaphorePermit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit<'a>> {
        let semaphore = self.semaphore;
        let mut state = semaphore.state.borrow_mut();
        match self.key {
            Some(key) => match state.waiters.poll_woken(key, cx.waker()) {
                Some(()) => {
                    self.key = None;
                    Poll::Ready(SemaphorePermit { semaphore })
                }
                None => Poll::Pending,
            },
            None => {
                if state.permits > 0 && state.waiters.waiting() == 0 {
                    drop(state);
                    std::task::ready!(coop::poll_proceed(cx));
                    // The budget check cannot change the count: same thread, no await.
                    semaphore.state.borrow_mut().permits -= 1;
                    Poll::Ready(SemaphorePermit { semaphore })
                } else {
                    self.key = Some(state.waiters.push_back(cx.waker()));
                    Poll::Pending
                }
            }
        }
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.semaphore.leave_line(key);
        }
    }
}

/// A permit of a [`Semaphore`]; dropping it releases the permit.
#[must_use = "dropping the permit releases it at once"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken without releasing it on drop; give it back
    /// later with [`Semaphore::release`].
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.release();
    }
}

impl std::fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SemaphorePermit")
    }
}

/// A permit that owns an `Rc` of its semaphore (from
/// [`Semaphore::acquire_owned`]); dropping it releases the permit.
#[must_use = "dropping the permit releases it at once"]
pub struct OwnedSemaphorePermit {
    semaphore: Rc<Semaphore>,
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.semaphore.release();
    }
}

impl std::fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnedSemaphorePermit")
    }
}

/// Released more times than acquired ([`BoundedSemaphore::release`]),
/// asyncio's `ValueError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyReleases;

impl std::fmt::Display for TooManyReleases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoundedSemaphore released too many times")
    }
}

impl std::error::Error for TooManyReleases {}

/// A [`Semaphore`] that refuses to be released above its initial value
/// (asyncio's `BoundedSemaphore`).
///
/// ```
/// use corio::sync::BoundedSemaphore;
/// corio::run(async {
///     let sem = BoundedSemaphore::new(1);
///     sem.acquire().await.forget();
///     assert!(sem.release().is_ok());
///     assert!(sem.release().is_err()); // would exceed the initial value
/// });
/// ```
pub struct BoundedSemaphore {
    inner: Semaphore,
    bound: usize,
    /// Permits taken and not yet released (by guard or explicitly).
    taken: std::cell::Cell<usize>,
}

impl BoundedSemaphore {
    /// A semaphore with `permits` permits, never more.
    pub fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            inner: Semaphore::new(permits),
            bound: permits,
            taken: std::cell::Cell::new(0),
        }
    }

    /// Waits for a permit (same fairness and cancellation as [`Semaphore`]).
    pub async fn acquire(&self) -> BoundedPermit<'_> {
        self.inner.acquire().await.forget();
        self.taken.set(self.taken.get() + 1);
        BoundedPermit { semaphore: self }
    }

    /// A permit if one is free and nobody waits for it.
    pub fn try_acquire(&self) -> Option<BoundedPermit<'_>> {
        self.inner.try_take().then(|| {
            self.taken.set(self.taken.get() + 1);
            BoundedPermit { semaphore: self }
        })
    }

    /// Gives back a permit taken with [`BoundedPermit::forget`]; an error if
    /// that would exceed the initial value.
    pub fn release(&self) -> Result<(), TooManyReleases> {
        let taken = self.taken.get();
        if taken == 0 {
            return Err(TooManyReleases);
        }
        self.taken.set(taken - 1);
        self.inner.release();
        Ok(())
    }

    /// Free permits.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Whether `acquire` would wait.
    pub fn locked(&self) -> bool {
        self.inner.locked()
    }

    /// The initial (and maximum) number of permits.
    pub fn bound(&self) -> usize {
        self.bound
    }
}

impl std::fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("permits", &self.available_permits())
            .field("bound", &self.bound)
            .finish()
    }
}

/// A permit of a [`BoundedSemaphore`]; dropping it releases the permit.
#[must_use = "dropping the permit releases it at once"]
pub struct BoundedPermit<'a> {
    semaphore: &'a BoundedSemaphore,
}

impl BoundedPermit<'_> {
    /// Keeps the permit taken; give it back with [`BoundedSemaphore::release`].
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for BoundedPermit<'_> {
    fn drop(&mut self) {
        let released = self.semaphore.release();
        debug_assert!(released.is_ok(), "a live permit is always releasable");
    }
}

impl std::fmt::Debug for BoundedPermit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoundedPermit")
    }
}

impl std::fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquire").finish_non_exhaustive()
    }
}
