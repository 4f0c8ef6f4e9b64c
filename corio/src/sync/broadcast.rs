//! A channel whose every receiver gets every value (tokio's `broadcast`),
//! holding the last `capacity` values for receivers that fall behind.
//!
//! ```
//! corio::run(async {
//!     let (tx, mut a) = corio::sync::broadcast::channel(16);
//!     let mut b = tx.subscribe();
//!     tx.send("hi").unwrap();
//!     assert_eq!(a.recv().await, Ok("hi"));
//!     assert_eq!(b.recv().await, Ok("hi"));
//! });
//! ```
//!
//! A receiver more than `capacity` values behind loses the oldest ones and
//! is told how many ([`RecvError::Lagged`]), then reads on from the oldest
//! value still held. Loop-local (`!Send`), like the rest of `corio::sync`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use super::Notify;

struct Shared<T> {
    /// The values held, oldest first; the first has sequence number `head`.
    buffer: RefCell<VecDeque<T>>,
    head: Cell<u64>,
    capacity: usize,
    senders: Cell<usize>,
    receivers: Cell<usize>,
    sent: Notify,
}

impl<T> Shared<T> {
    fn tail(&self) -> u64 {
        self.head.get() + self.buffer.borrow().len() as u64
    }
}

/// Sends values to every receiver. Clone it for more senders; the channel
/// closes when the last is dropped.
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

/// Receives every value sent after it was made.
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
    next: u64,
}

/// Why [`Receiver::recv`] returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// Every sender is gone and every value was read.
    Closed,
    /// This receiver fell behind: that many values were dropped before it
    /// read them. The next `recv` reads the oldest value still held.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("every broadcast sender was dropped"),
            RecvError::Lagged(n) => write!(f, "the receiver fell behind and missed {n} values"),
        }
    }
}

impl std::error::Error for RecvError {}

/// No receiver is left; the value comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T: fmt::Debug> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every broadcast receiver was dropped")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// A channel holding up to `capacity` values (at least 1).
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        buffer: RefCell::new(VecDeque::with_capacity(capacity.max(1))),
        head: Cell::new(0),
        capacity: capacity.max(1),
        senders: Cell::new(1),
        receivers: Cell::new(1),
        sent: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

impl<T: Clone> Sender<T> {
    /// Sends `value` to every receiver; returns how many there are, or
    /// `Err` (with the value) when there are none.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let shared = &self.shared;
        if shared.receivers.get() == 0 {
            return Err(SendError(value));
        }
        {
            let mut buffer = shared.buffer.borrow_mut();
            if buffer.len() == shared.capacity {
                buffer.pop_front();
                shared.head.set(shared.head.get() + 1);
            }
            buffer.push_back(value);
        }
        shared.sent.notify_waiters();
        Ok(shared.receivers.get())
    }

    /// A receiver of the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            next: self.shared.tail(),
        }
    }

    /// How many receivers there are.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.get()
    }
}

impl<T: Clone> Receiver<T> {
    /// The next value, waiting for one; see [`RecvError`]. Cancel-safe: a
    /// cancelled `recv` loses no value.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        let shared = self.shared.clone();
        loop {
            let sent = shared.sent.notified();
            match self.try_recv() {
                Err(TryRecvError::Empty) => sent.await,
                Err(TryRecvError::Closed) => return Err(RecvError::Closed),
                Err(TryRecvError::Lagged(n)) => return Err(RecvError::Lagged(n)),
                Ok(value) => return Ok(value),
            }
        }
    }

    /// The next value if there is one now.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let shared = &self.shared;
        let head = shared.head.get();
        if self.next < head {
            let missed = head - self.next;
            self.next = head;
            return Err(TryRecvError::Lagged(missed));
        }
        let buffer = shared.buffer.borrow();
        match buffer.get((self.next - head) as usize) {
            Some(value) => {
                self.next += 1;
                Ok(value.clone())
            }
            None if shared.senders.get() == 0 => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// A new receiver at the same place in the stream.
    pub fn resubscribe(&self) -> Receiver<T> {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            next: self.next,
        }
    }
}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing new yet.
    Empty,
    /// Every sender is gone and every value was read.
    Closed,
    /// The receiver fell behind by this many values (see [`RecvError`]).
    Lagged(u64),
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.set(self.shared.senders.get() + 1);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.senders.set(self.shared.senders.get() - 1);
        if self.shared.senders.get() == 0 {
            self.shared.sent.notify_waiters();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.set(self.shared.receivers.get() - 1);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender")
            .field("receivers", &self.shared.receivers.get())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("next", &self.next)
            .finish()
    }
}
