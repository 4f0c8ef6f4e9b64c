//! `Mutex<T>`: an async lock around a value, FIFO-fair.

use std::cell::{RefCell, RefMut};
use std::ops::{Deref, DerefMut};

use super::semaphore::Semaphore;

/// An async mutual-exclusion lock around a `T` (asyncio's `Lock`, with the
/// data inside as Rust prefers). Waiters acquire in arrival order.
///
/// Hold the guard across `.await` freely: other tasks wait in line instead of
/// failing. **Cancellation:** as for [`Semaphore`]: a waiter dropped after
/// the lock was handed to it passes the lock on.
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Mutex;
/// corio::run(async {
///     let total = Rc::new(Mutex::new(0));
///     let tasks: Vec<_> = (0..10).map(|_| {
///         let total = total.clone();
///         corio::spawn(async move {
///             let mut guard = total.lock().await;
///             corio::yield_now().await; // other tasks wait meanwhile
///             *guard += 1;
///         })
///     }).collect();
///     for t in tasks { t.await.unwrap(); }
///     assert_eq!(*total.lock().await, 10);
/// });
/// ```
pub struct Mutex<T> {
    semaphore: Semaphore,
    value: RefCell<T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            semaphore: Semaphore::new(1),
            value: RefCell::new(value),
        }
    }

    /// Waits for the lock.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        self.semaphore.acquire().await.forget();
        self.guard()
    }

    /// The lock if it is free and nobody waits for it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.semaphore.try_acquire().map(|permit| {
            permit.forget();
            self.guard()
        })
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        // The semaphore grants one holder at a time, so this borrow is free.
        MutexGuard {
            mutex: self,
            value: Some(self.value.borrow_mut()),
        }
    }

    /// Whether the lock is held.
    pub fn is_locked(&self) -> bool {
        self.semaphore.available_permits() == 0
    }

    /// The value, when nobody else can hold the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    pub(crate) fn unlock(&self) {
        self.semaphore.release();
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutex")
            .field("locked", &self.is_locked())
            .finish()
    }
}

/// Holds a [`Mutex`] locked; dropping it unlocks.
#[must_use = "dropping the guard unlocks the mutex at once"]
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    value: Option<RefMut<'a, T>>,
}

impl<'a, T> MutexGuard<'a, T> {
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }

    /// Ends the guard but leaves the mutex locked (for `Lock`'s explicit
    /// release).
    pub(crate) fn keep_locked(mut self) {
        drop(self.value.take());
        std::mem::forget(self);
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_ref().expect("guard holds the value")
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("guard holds the value")
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // End the borrow before the next holder takes it.
        drop(self.value.take());
        self.mutex.unlock();
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}
