//! `Event`: a flag tasks can wait for.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_list::{wake_all, WaitKey, WaitList};
use crate::coop;

/// asyncio's `Event`: `wait` returns once the flag is set; `set` wakes every
/// waiter; `clear` resets the flag for later waiters.
///
/// A waiter woken by `set` returns even if the flag was cleared again before
/// it ran (as asyncio). **Cancellation:** a dropped waiter just leaves;
/// nothing is owed to anyone.
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Event;
/// corio::run(async {
///     let event = Rc::new(Event::new());
///     let e = event.clone();
///     let waiter = corio::spawn(async move { e.wait().await; "woke" });
///     corio::yield_now().await;
///     event.set();
///     assert_eq!(waiter.await.unwrap(), "woke");
/// });
/// ```
#[derive(Default)]
pub struct Event {
    flag: Cell<bool>,
    waiters: RefCell<WaitList>,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Event {
        Event::default()
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.flag.set(true);
        let wakers = self.waiters.borrow_mut().wake_all(());
        wake_all(wakers);
    }

    /// Clears the flag.
    pub fn clear(&self) {
        self.flag.set(false);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.flag.get()
    }

    /// Waits until the flag is set.
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            key: None,
        }
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

/// The future of [`Event::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    key: Option<WaitKey>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let event = self.event;
        if let Some(key) = self.key {
            if event
                .waiters
                .borrow_mut()
                .poll_woken(key, cx.waker())
                .is_none()
            {
                return Poll::Pending;
            }
            self.key = None;
            return Poll::Ready(());
        }
        if event.flag.get() {
            return coop::poll_proceed(cx);
        }
        self.key = Some(event.waiters.borrow_mut().push_back(cx.waker()));
        Poll::Pending
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.event.waiters.borrow_mut().remove(key);
        }
    }
}

impl std::fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWait").finish_non_exhaustive()
    }
}
