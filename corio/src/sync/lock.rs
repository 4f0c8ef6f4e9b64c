//! `Lock`: asyncio's plain lock, with a guard or explicit release.

use super::mutex::{Mutex, MutexGuard};

/// Released a [`Lock`] that was not locked (asyncio's `RuntimeError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotLocked;

impl std::fmt::Display for NotLocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lock is not acquired")
    }
}

impl std::error::Error for NotLocked {}

/// asyncio's `Lock`: FIFO-fair, guarding no data. Use the guard
/// ([`acquire`](Lock::acquire)), or asyncio's explicit style with
/// [`LockGuard::forget`] and [`release`](Lock::release).
///
/// ```
/// use corio::sync::Lock;
/// corio::run(async {
///     let lock = Lock::new();
///     {
///         let _guard = lock.acquire().await;
///         assert!(lock.locked());
///     }
///     lock.acquire().await.forget(); // asyncio: await lock.acquire()
///     assert!(lock.release().is_ok()); // asyncio: lock.release()
///     assert!(lock.release().is_err());
/// });
/// ```
#[derive(Debug, Default)]
pub struct Lock {
    mutex: Mutex<()>,
    /// Holds taken with `LockGuard::forget`, awaiting `release`. Counting
    /// them keeps `release` from freeing a lock a live guard still holds.
    forgotten: std::cell::Cell<usize>,
}

impl Lock {
    /// A new, unlocked lock.
    pub fn new() -> Lock {
        Lock {
            mutex: Mutex::new(()),
            forgotten: std::cell::Cell::new(0),
        }
    }

    /// Waits for the lock; dropping the guard releases it.
    pub async fn acquire(&self) -> LockGuard<'_> {
        LockGuard {
            lock: self,
            guard: self.mutex.lock().await,
        }
    }

    /// The lock if it is free and nobody waits for it.
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        self.mutex
            .try_lock()
            .map(|guard| LockGuard { lock: self, guard })
    }

    /// Releases a lock taken with [`LockGuard::forget`]; [`NotLocked`] if
    /// it is not locked that way (unlocked, or held by a live guard, which
    /// releases it when dropped). The next waiter in line gets it.
    pub fn release(&self) -> Result<(), NotLocked> {
        let forgotten = self.forgotten.get();
        if forgotten == 0 {
            return Err(NotLocked);
        }
        self.forgotten.set(forgotten - 1);
        self.mutex.unlock();
        Ok(())
    }

    /// Whether the lock is held.
    pub fn locked(&self) -> bool {
        self.mutex.is_locked()
    }
}

/// Holds a [`Lock`]; dropping it releases the lock.
#[must_use = "dropping the guard releases the lock at once"]
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    guard: MutexGuard<'a, ()>,
}

impl LockGuard<'_> {
    /// Keeps the lock held after the guard is gone; release it with
    /// [`Lock::release`].
    pub fn forget(self) {
        self.lock.forgotten.set(self.lock.forgotten.get() + 1);
        self.guard.keep_locked();
    }
}
