//! [`Notify`]: wake one waiting task, or all of them (tokio's `Notify`).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_list::{wake_all, WaitKey, WaitList};

/// Wakes tasks without passing a value: [`notify_one`](Notify::notify_one)
/// wakes the longest-waiting task, or, when none waits, lets the next
/// [`notified`](Notify::notified) complete at once (one stored permit, as
/// tokio's); [`notify_waiters`](Notify::notify_waiters) wakes every task
/// waiting now (every `Notified` created before the call), storing nothing.
///
/// Loop-local (`!Send`); share it through an `Rc`. A `Notified` dropped
/// after `notify_one` chose it passes the notification on.
///
/// ```
/// use std::rc::Rc;
/// corio::run(async {
///     let notify = Rc::new(corio::sync::Notify::new());
///     let n = notify.clone();
///     let waiter = corio::spawn(async move { n.notified().await; "woken" });
///     corio::yield_now().await;
///     notify.notify_one();
///     assert_eq!(waiter.await.unwrap(), "woken");
/// });
/// ```
#[derive(Default)]
pub struct Notify {
    permit: Cell<bool>,
    /// `true`: woken by `notify_one` (to pass on if dropped unconsumed).
    waiters: RefCell<WaitList<bool>>,
    /// Counts `notify_waiters` calls.
    generation: Cell<u64>,
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notify")
            .field("permit", &self.permit.get())
            .field("waiting", &self.waiters.borrow().waiting())
            .finish()
    }
}

impl Notify {
    /// A `Notify` with no stored permit.
    pub fn new() -> Notify {
        Notify::default()
    }

    /// Wakes the longest-waiting task, or stores one permit for the next.
    pub fn notify_one(&self) {
        let waker = self.waiters.borrow_mut().wake_one(true);
        match waker {
            Some(waker) => waker.wake(),
            None => self.permit.set(true),
        }
    }

    /// Wakes every task waiting now; stores no permit.
    pub fn notify_waiters(&self) {
        self.generation.set(self.generation.get() + 1);
        let wakers = self.waiters.borrow_mut().wake_all(false);
        wake_all(wakers);
    }

    /// Completes when this task is notified.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.generation.get(),
            key: None,
            done: false,
        }
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Notified<'a> {
    notify: &'a Notify,
    generation: u64,
    key: Option<WaitKey>,
    done: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(());
        }
        let notify = this.notify;
        if let Some(key) = this.key {
            if notify
                .waiters
                .borrow_mut()
                .poll_woken(key, cx.waker())
                .is_some()
            {
                this.key = None;
                this.done = true;
                return Poll::Ready(());
            }
            return Poll::Pending;
        }
        if notify.generation.get() != this.generation || notify.permit.replace(false) {
            this.done = true;
            return Poll::Ready(());
        }
        this.key = Some(notify.waiters.borrow_mut().push_back(cx.waker()));
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let woken = self.notify.waiters.borrow_mut().remove(key);
            if woken == Some(true) {
                // Chosen by `notify_one` but never resumed: the next waiter
                // (or the next `notified`) gets it.
                self.notify.notify_one();
            }
        }
    }
}
