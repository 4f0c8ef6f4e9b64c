//! The thread-safe [`broadcast`](self) channel.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::Notify;
pub use crate::sync::broadcast::{RecvError, SendError, TryRecvError};

struct State<T> {
    /// The values held, oldest first; the first has sequence number `head`.
    buffer: VecDeque<T>,
    head: u64,
    senders: usize,
    receivers: usize,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    sent: Notify,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`sync::broadcast`](crate::sync::broadcast)'s channel for tasks on any
/// threads and loops (`Send + Sync` when `T: Send`): every receiver gets
/// every value; one that falls more than `capacity` behind is told how
/// many it missed.
///
/// ```
/// corio::run(async {
///     let (tx, mut rx) = corio::sync::threadsafe::broadcast::channel(8);
///     std::thread::spawn(move || tx.send("stop").unwrap());
///     assert_eq!(rx.recv().await, Ok("stop"));
/// });
/// ```
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buffer: VecDeque::with_capacity(capacity.max(1)),
            head: 0,
            senders: 1,
            receivers: 1,
        }),
        capacity: capacity.max(1),
        sent: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// Sends values to every receiver; clone it for more senders.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Receives every value sent after it was made.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    next: u64,
}

impl<T: Clone> Sender<T> {
    /// Sends `value` to every receiver; how many there are, or `Err` (with
    /// the value) when there are none.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let receivers = {
            let mut state = self.shared.lock();
            if state.receivers == 0 {
                return Err(SendError(value));
            }
            if state.buffer.len() == self.shared.capacity {
                state.buffer.pop_front();
                state.head += 1;
            }
            state.buffer.push_back(value);
            state.receivers
        };
        self.shared.sent.notify_waiters();
        Ok(receivers)
    }

    /// A receiver of the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        let mut state = self.shared.lock();
        state.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: state.head + state.buffer.len() as u64,
        }
    }
}

impl<T: Clone> Receiver<T> {
    /// The next value, waiting for one. Cancel-safe.
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

    /// A new receiver at the same place in the stream.
    pub fn resubscribe(&self) -> Receiver<T> {
        self.shared.lock().receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: self.next,
        }
    }

    /// The next value if there is one now.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let state = self.shared.lock();
        if self.next < state.head {
            let missed = state.head - self.next;
            self.next = state.head;
            return Err(TryRecvError::Lagged(missed));
        }
        match state.buffer.get((self.next - state.head) as usize) {
            Some(value) => {
                self.next += 1;
                Ok(value.clone())
            }
            None if state.senders == 0 => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut state = self.shared.lock();
            state.senders -= 1;
            state.senders == 0
        };
        if last {
            self.shared.sent.notify_waiters();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.lock().receivers -= 1;
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("threadsafe::broadcast::Sender")
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("threadsafe::broadcast::Receiver")
            .field("next", &self.next)
            .finish()
    }
}
