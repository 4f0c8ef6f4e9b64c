//! The thread-safe [`watch`](self) channel.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::Notify;
pub use crate::sync::watch::{RecvError, SendError};

struct Shared<T> {
    value: Mutex<T>,
    version: AtomicU64,
    receivers: AtomicUsize,
    sender_alive: AtomicBool,
    changed: Notify,
}

impl<T> Shared<T> {
    fn value(&self) -> MutexGuard<'_, T> {
        self.value.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`sync::watch`](crate::sync::watch)'s channel for tasks on any threads
/// and loops (`Send + Sync` when `T: Send`): the latest value, and a wait
/// for the next change.
///
/// ```
/// corio::run(async {
///     let (tx, mut rx) = corio::sync::threadsafe::watch::channel(0);
///     std::thread::spawn(move || tx.send(42).unwrap());
///     rx.changed().await.unwrap();
///     assert_eq!(*rx.borrow_and_update(), 42);
/// });
/// ```
pub fn channel<T>(initial: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: Mutex::new(initial),
        version: AtomicU64::new(0),
        receivers: AtomicUsize::new(1),
        sender_alive: AtomicBool::new(true),
        changed: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

/// Sets the value; dropping it closes the channel.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Reads the value and waits for changes. Clone it for more receivers.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    seen: u64,
}

impl<T> Sender<T> {
    /// Replaces the value and wakes the receivers; `Err` (with the value)
    /// when there are none.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.load(Ordering::Acquire) == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value (receivers or not) and returns the old one.
    pub fn send_replace(&self, value: T) -> T {
        let old = std::mem::replace(&mut *self.shared.value(), value);
        self.bump();
        old
    }

    /// Changes the value in place and wakes the receivers.
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        modify(&mut self.shared.value());
        self.bump();
    }

    fn bump(&self) {
        self.shared.version.fetch_add(1, Ordering::AcqRel);
        self.shared.changed.notify_waiters();
    }

    /// The current value (a lock guard: do not hold it across an `.await`).
    pub fn borrow(&self) -> MutexGuard<'_, T> {
        self.shared.value()
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, Ordering::AcqRel);
        Receiver {
            shared: self.shared.clone(),
            seen: self.shared.version.load(Ordering::Acquire),
        }
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.receivers.load(Ordering::Acquire) == 0
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.sender_alive.store(false, Ordering::Release);
        self.shared.changed.notify_waiters();
    }
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen (a lock guard).
    pub fn borrow(&self) -> MutexGuard<'_, T> {
        self.shared.value()
    }

    /// The current value, marked seen (a lock guard).
    pub fn borrow_and_update(&mut self) -> MutexGuard<'_, T> {
        let guard = self.shared.value();
        // Read under the lock: the version matches the value returned.
        self.seen = self.shared.version.load(Ordering::Acquire);
        guard
    }

    /// Whether a value was sent since this receiver last marked one seen.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let changed = self.shared.version.load(Ordering::Acquire) != self.seen;
        if !changed && !self.shared.sender_alive.load(Ordering::Acquire) {
            return Err(RecvError);
        }
        Ok(changed)
    }

    /// Waits for a value not yet seen, and marks it seen; `RecvError` once
    /// the sender is gone and nothing new is left. Cancel-safe.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        loop {
            let notified = self.shared.changed.notified();
            let version = self.shared.version.load(Ordering::Acquire);
            if version != self.seen {
                self.seen = version;
                return Ok(());
            }
            if !self.shared.sender_alive.load(Ordering::Acquire) {
                return Err(RecvError);
            }
            notified.await;
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::AcqRel);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("threadsafe::watch::Sender")
            .field("version", &self.shared.version.load(Ordering::Relaxed))
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("threadsafe::watch::Receiver")
            .field("seen", &self.seen)
            .finish()
    }
}
