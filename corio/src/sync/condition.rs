//! `Condition`: wait for a notification while holding a mutex.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::mutex::{Mutex, MutexGuard};
use super::wait_list::{wake_all, WaitKey, WaitList};

/// asyncio's `Condition`, around a [`Mutex<T>`]: `wait` releases the lock,
/// waits for [`notify`](Condition::notify), and takes the lock again.
///
/// Unlike asyncio, `notify` does not require holding the lock: on one thread
/// nothing can run between a waiter's last check and its wait, so no
/// notification can slip through. **Cancellation:** a waiter that was
/// notified but dropped before it returned passes the notification to the
/// next waiter, so `notify(1)` always reaches someone who is still waiting.
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Condition;
/// corio::run(async {
///     let ready = Rc::new(Condition::new(false));
///     let r = ready.clone();
///     let waiter = corio::spawn(async move {
///         let guard = r.lock().await;
///         let guard = r.wait_for(guard, |ready| *ready).await;
///         *guard
///     });
///     corio::yield_now().await;
///     *ready.lock().await = true;
///     ready.notify_all();
///     assert!(waiter.await.unwrap());
/// });
/// ```
pub struct Condition<T> {
    mutex: Mutex<T>,
    waiters: RefCell<WaitList>,
}

impl<T> Condition<T> {
    /// A condition around a new mutex holding `value`.
    pub fn new(value: T) -> Condition<T> {
        Condition {
            mutex: Mutex::new(value),
            waiters: RefCell::new(WaitList::default()),
        }
    }

    /// Takes the condition's lock.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        self.mutex.lock().await
    }

    /// Releases `guard`, waits to be notified, and returns the lock taken
    /// again. Wake-ups may be spurious (another waiter may have changed the
    /// state first): check the state, or use [`wait_for`](Condition::wait_for).
    ///
    /// Panics if `guard` belongs to another mutex.
    pub fn wait<'a>(&'a self, guard: MutexGuard<'a, T>) -> ConditionWait<'a, T> {
        assert!(
            std::ptr::eq(guard.mutex(), &self.mutex),
            "Condition::wait: the guard belongs to another mutex"
        );
        ConditionWait {
            condition: self,
            stage: Stage::Holding(guard),
        }
    }

    /// Waits until `predicate` holds for the protected value; returns the lock.
    pub async fn wait_for<'a>(
        &'a self,
        mut guard: MutexGuard<'a, T>,
        mut predicate: impl FnMut(&T) -> bool,
    ) -> MutexGuard<'a, T> {
        while !predicate(&guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Wakes up to `n` waiters (in arrival order).
    pub fn notify(&self, n: usize) {
        let mut wakers = Vec::new();
        {
            let mut waiters = self.waiters.borrow_mut();
            for _ in 0..n {
                match waiters.wake_one(()) {
                    Some(waker) => wakers.push(waker),
                    None => break,
                }
            }
        }
        wake_all(wakers);
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let wakers = self.waiters.borrow_mut().wake_all(());
        wake_all(wakers);
    }

    /// Tasks waiting for a notification.
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().waiting()
    }
}

impl<T: Default> Default for Condition<T> {
    fn default() -> Self {
        Condition::new(T::default())
    }
}

impl<T> std::fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("waiting", &self.waiting())
            .finish()
    }
}

enum Stage<'a, T> {
    /// Not polled yet: still holding the lock.
    Holding(MutexGuard<'a, T>),
    /// Lock released, in line for a notification.
    Waiting(WaitKey),
    /// Notified; taking the lock again.
    Relocking(Pin<Box<dyn Future<Output = MutexGuard<'a, T>> + 'a>>),
    Done,
}

/// The future of [`Condition::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionWait<'a, T> {
    condition: &'a Condition<T>,
    stage: Stage<'a, T>,
}

impl<T> Unpin for ConditionWait<'_, T> {}

impl<'a, T> Future for ConditionWait<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let condition = self.condition;
        loop {
            match std::mem::replace(&mut self.stage, Stage::Done) {
                Stage::Holding(guard) => {
                    let key = condition.waiters.borrow_mut().push_back(cx.waker());
                    drop(guard); // unlock only once in line: no notify can be missed
                    self.stage = Stage::Waiting(key);
                    return Poll::Pending;
                }
                Stage::Waiting(key) => {
                    let notified = condition
                        .waiters
                        .borrow_mut()
                        .poll_woken(key, cx.waker())
                        .is_some();
                    if notified {
                        self.stage = Stage::Relocking(Box::pin(condition.mutex.lock()));
                        continue;
                    }
                    self.stage = Stage::Waiting(key);
                    return Poll::Pending;
                }
                Stage::Relocking(mut lock) => match lock.as_mut().poll(cx) {
                    Poll::Ready(guard) => return Poll::Ready(guard),
                    Poll::Pending => {
                        self.stage = Stage::Relocking(lock);
                        return Poll::Pending;
                    }
                },
                Stage::Done => panic!("Condition::wait polled after it completed"),
            }
        }
    }
}

impl<T> Drop for ConditionWait<'_, T> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Waiting(key) => {
                let notified = self.condition.waiters.borrow_mut().remove(key).is_some();
                if notified {
                    self.condition.notify(1);
                }
            }
            // Notified, but never returned to its caller: pass it on.
            Stage::Relocking(lock) => {
                drop(lock);
                self.condition.notify(1);
            }
            Stage::Holding(_) | Stage::Done => {}
        }
    }
}

impl<T> std::fmt::Debug for ConditionWait<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConditionWait").finish_non_exhaustive()
    }
}
