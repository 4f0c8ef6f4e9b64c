//! A channel that holds the latest value (tokio's `watch`): receivers see
//! the current value and wait for the next change.
//!
//! ```
//! corio::run(async {
//!     let (tx, mut rx) = corio::sync::watch::channel("starting");
//!     let watcher = corio::spawn(async move {
//!         rx.changed().await.unwrap();
//!         *rx.borrow_and_update()
//!     });
//!     tx.send("ready").unwrap();
//!     assert_eq!(watcher.await.unwrap(), "ready");
//! });
//! ```
//!
//! Loop-local (`!Send`), like the rest of `corio::sync`.

use std::cell::{Cell, Ref, RefCell};
use std::fmt;
use std::rc::Rc;

use super::Notify;

struct Shared<T> {
    value: RefCell<T>,
    /// Bumped by every send.
    version: Cell<u64>,
    receivers: Cell<usize>,
    sender_alive: Cell<bool>,
    changed: Notify,
}

/// Sets the value. Dropping it closes the channel: waiting receivers get
/// [`RecvError`].
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

/// Reads the value and waits for changes. Clone it for more receivers.
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
    /// The version this receiver has seen.
    seen: u64,
}

/// The sender is gone (for [`Receiver::changed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the watch sender was dropped")
    }
}

impl std::error::Error for RecvError {}

/// Every receiver is gone; the value comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T: fmt::Debug> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every watch receiver was dropped")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// A channel holding `initial`.
pub fn channel<T>(initial: T) -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        value: RefCell::new(initial),
        version: Cell::new(0),
        receivers: Cell::new(1),
        sender_alive: Cell::new(true),
        changed: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

impl<T> Sender<T> {
    /// Replaces the value and wakes the receivers; `Err` (with the value)
    /// when there are none.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.get() == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value (receivers or not) and returns the old one.
    pub fn send_replace(&self, value: T) -> T {
        let old = self.shared.value.replace(value);
        self.bump();
        old
    }

    /// Changes the value in place and wakes the receivers.
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        modify(&mut self.shared.value.borrow_mut());
        self.bump();
    }

    fn bump(&self) {
        self.shared.version.set(self.shared.version.get() + 1);
        self.shared.changed.notify_waiters();
    }

    /// The current value (do not hold it across an `.await`: a send
    /// meanwhile would panic).
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.value.borrow()
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            seen: self.shared.version.get(),
        }
    }

    /// How many receivers there are.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.get()
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.receivers.get() == 0
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.sender_alive.set(false);
        self.shared.changed.notify_waiters();
    }
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.value.borrow()
    }

    /// The current value, marked seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        self.seen = self.shared.version.get();
        self.shared.value.borrow()
    }

    /// Whether a value was sent since this receiver last marked one seen.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let changed = self.shared.version.get() != self.seen;
        if !changed && !self.shared.sender_alive.get() {
            return Err(RecvError);
        }
        Ok(changed)
    }

    /// Waits for a value not yet seen, and marks it seen; `RecvError` once
    /// the sender is gone and nothing new is left. Cancel-safe.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        loop {
            let notified = self.shared.changed.notified();
            if self.shared.version.get() != self.seen {
                self.seen = self.shared.version.get();
                return Ok(());
            }
            if !self.shared.sender_alive.get() {
                return Err(RecvError);
            }
            notified.await;
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.set(self.shared.receivers.get() - 1);
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender")
            .field("value", &self.shared.value)
            .field("version", &self.shared.version.get())
            .finish()
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver")
            .field("value", &self.shared.value)
            .field("seen", &self.seen)
            .finish()
    }
}
