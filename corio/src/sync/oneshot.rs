//! A channel for one value, between tasks of any loops or threads (tokio's
//! `oneshot`): the sender may live on another thread or loop, the receiver
//! awaits (or, on a thread that runs no loop, blocks).
//!
//! ```
//! corio::run(async {
//!     let (tx, rx) = corio::sync::oneshot::channel();
//!     std::thread::spawn(move || tx.send(6 * 7).unwrap());
//!     assert_eq!(rx.await, Ok(42));
//! });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::runtime::task::oneshot as inner;

/// A new channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = inner::channel(None);
    (Sender { inner: tx }, Receiver { inner: rx })
}

/// Sends the one value. `Send` when `T` is.
pub struct Sender<T> {
    inner: inner::Sender<T>,
}

/// Receives the one value: await it. `Send` when `T` is.
pub struct Receiver<T> {
    inner: inner::Receiver<T>,
}

/// The sender was dropped without sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the oneshot sender was dropped without sending")
    }
}

impl std::error::Error for RecvError {}

impl<T> Sender<T> {
    /// Sends `value`; gives it back (`Err`) if the receiver is gone.
    pub fn send(self, value: T) -> Result<(), T> {
        self.inner.send(value)
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl<T> Receiver<T> {
    /// Blocks this thread until the value arrives. For threads that run no
    /// loop (blocking a loop's thread stops the loop).
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        self.inner.recv_blocking().ok_or(RecvError)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    /// Ready with the value, or `RecvError` once the sender is dropped
    /// unsent. Polling again after it completed panics.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        Pin::new(&mut self.get_mut().inner)
            .poll(cx)
            .map(|v| v.ok_or(RecvError))
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver").finish_non_exhaustive()
    }
}
