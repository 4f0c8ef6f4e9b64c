//! The queue itself, generic over its item order.

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::errors::{GetShutDown, PutShutDown, TaskDoneTooOften, TryGetError, TryPutError};
use super::store::Store;
use crate::coop;
use crate::sync::wait_list::{wake_all, WaitKey, WaitList};

struct State<S> {
    items: S,
    maxsize: usize,
    unfinished: usize,
    shut_down: bool,
    getters: WaitList,
    putters: WaitList,
    joiners: WaitList,
}

impl<S> State<S> {
    fn full<T>(&self) -> bool
    where
        S: Store<T>,
    {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }
}

/// An async queue for tasks of one loop (asyncio's `Queue`), generic over
/// the order in which items come out: use [`Queue`](super::Queue),
/// [`LifoQueue`](super::LifoQueue) or [`PriorityQueue`](super::PriorityQueue).
///
/// `maxsize` 0 means unbounded; otherwise `put` waits while the queue is
/// full. Waiting `get`s and `put`s are served in arrival order.
///
/// **Cancellation:** items stay in the queue until a `get` returns them, so
/// a cancelled `get` never loses one; a `get` (or `put`) that was woken and
/// then dropped passes its wake-up to the next waiter. A cancelled `put`
/// never inserted its item.
pub struct GenericQueue<T, S: Store<T>> {
    state: RefCell<State<S>>,
    _items: PhantomData<T>,
}

impl<T, S: Store<T>> GenericQueue<T, S> {
    /// A queue holding at most `maxsize` items (0 = unbounded).
    pub fn new(maxsize: usize) -> Self {
        GenericQueue {
            state: RefCell::new(State {
                items: S::default(),
                maxsize,
                unfinished: 0,
                shut_down: false,
                getters: WaitList::default(),
                putters: WaitList::default(),
                joiners: WaitList::default(),
            }),
            _items: PhantomData,
        }
    }

    /// An unbounded queue.
    pub fn unbounded() -> Self {
        Self::new(0)
    }

    /// Puts `item`, waiting while the queue is full. Fails (giving the item
    /// back) if the queue is shut down.
    pub fn put(&self, item: T) -> Put<'_, T, S> {
        Put {
            queue: self,
            item: Some(item),
            key: None,
        }
    }

    /// Takes the next item, waiting while the queue is empty. Fails once the
    /// queue is shut down and has nothing left to give.
    pub fn get(&self) -> Get<'_, T, S> {
        Get {
            queue: self,
            key: None,
        }
    }

    /// Puts `item` now, or gives it back: the queue is full or shut down.
    pub fn put_nowait(&self, item: T) -> Result<(), TryPutError<T>> {
        let waker = {
            let mut state = self.state.borrow_mut();
            if state.shut_down {
                return Err(TryPutError::ShutDown(item));
            }
            if state.full() {
                return Err(TryPutError::Full(item));
            }
            state.items.push(item);
            state.unfinished += 1;
            state.getters.wake_one(())
        };
        wake_all(waker);
        Ok(())
    }

    /// Takes the next item now, if there is one.
    pub fn get_nowait(&self) -> Result<T, TryGetError> {
        let (item, waker) = {
            let mut state = self.state.borrow_mut();
            match state.items.pop() {
                Some(item) => (item, state.putters.wake_one(())),
                None if state.shut_down => return Err(TryGetError::ShutDown),
                None => return Err(TryGetError::Empty),
            }
        };
        wake_all(waker);
        Ok(item)
    }

    /// Says one item taken with `get` was fully processed (for [`join`](Self::join)).
    pub fn task_done(&self) -> Result<(), TaskDoneTooOften> {
        let wakers = {
            let mut state = self.state.borrow_mut();
            if state.unfinished == 0 {
                return Err(TaskDoneTooOften);
            }
            state.unfinished -= 1;
            if state.unfinished == 0 {
                state.joiners.wake_all(())
            } else {
                Vec::new()
            }
        };
        wake_all(wakers);
        Ok(())
    }

    /// Waits until every item put was taken and marked with `task_done`.
    pub fn join(&self) -> Join<'_, T, S> {
        Join {
            queue: self,
            key: None,
        }
    }

    /// Shuts the queue down (Python 3.13's `Queue.shutdown`): `put` fails
    /// from now on, and waiting `put`s wake with an error. Waiting `get`s
    /// wake too: they get the remaining items, then an error. With
    /// `immediate`, the remaining items are dropped (and counted as done for
    /// `join`), so `get` fails at once.
    pub fn shutdown(&self, immediate: bool) {
        let mut wakers = Vec::new();
        {
            let mut state = self.state.borrow_mut();
            state.shut_down = true;
            if immediate {
                let dropped = state.items.clear();
                state.unfinished = state.unfinished.saturating_sub(dropped);
                if state.unfinished == 0 {
                    wakers.extend(state.joiners.wake_all(()));
                }
            }
            wakers.extend(state.getters.wake_all(()));
            wakers.extend(state.putters.wake_all(()));
        }
        wake_all(wakers);
    }

    /// Items in the queue.
    pub fn qsize(&self) -> usize {
        self.state.borrow().items.len()
    }

    /// Whether the queue holds no item.
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue holds `maxsize` items (never, when unbounded).
    pub fn full(&self) -> bool {
        self.state.borrow().full()
    }

    /// The bound given at creation (0 = unbounded).
    pub fn maxsize(&self) -> usize {
        self.state.borrow().maxsize
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.state.borrow().shut_down
    }
}

impl<T, S: Store<T>> std::fmt::Debug for GenericQueue<T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("Queue")
            .field("qsize", &state.items.len())
            .field("maxsize", &state.maxsize)
            .field("unfinished", &state.unfinished)
            .field("shut_down", &state.shut_down)
            .finish()
    }
}

/// Waits in `list`: first time at the back, after a wake-up that found the
/// queue unready again at the front (keeping its turn).
#[inline]
fn park(list: &mut WaitList, cx: &Context<'_>, was_woken: bool) -> WaitKey {
    if was_woken {
        list.push_front(cx.waker())
    } else {
        list.push_back(cx.waker())
    }
}

/// The future of [`GenericQueue::put`].
#[must_use = "futures do nothing unless awaited"]
pub struct Put<'a, T, S: Store<T>> {
    queue: &'a GenericQueue<T, S>,
    item: Option<T>,
    key: Option<WaitKey>,
}

impl<T, S: Store<T>> Unpin for Put<'_, T, S> {}

impl<T, S: Store<T>> Future for Put<'_, T, S> {
    type Output = Result<(), PutShutDown<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.queue;
        let mut state = queue.state.borrow_mut();
        let mut was_woken = false;
        if let Some(key) = self.key {
            if state.putters.poll_woken(key, cx.waker()).is_none() {
                return Poll::Pending;
            }
            self.key = None;
            was_woken = true;
        }
        if state.shut_down {
            let item = self.item.take().expect("Put polled after it completed");
            return Poll::Ready(Err(PutShutDown(item)));
        }
        if state.full() {
            self.key = Some(park(&mut state.putters, cx, was_woken));
            return Poll::Pending;
        }
        if !was_woken {
            drop(state);
            std::task::ready!(coop::poll_proceed(cx));
            state = queue.state.borrow_mut();
        }
        state
            .items
            .push(self.item.take().expect("Put polled after it completed"));
        state.unfinished += 1;
        let waker = state.getters.wake_one(());
        drop(state);
        wake_all(waker);
        Poll::Ready(Ok(()))
    }
}

impl<T, S: Store<T>> Drop for Put<'_, T, S> {
    #[inline]
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            leave_line(&self.queue.state, |state| &mut state.putters, key);
        }
    }
}

/// The future of [`GenericQueue::get`].
#[must_use = "futures do nothing unless awaited"]
pub struct Get<'a, T, S: Store<T>> {
    queue: &'a GenericQueue<T, S>,
    key: Option<WaitKey>,
}

impl<T, S: Store<T>> Future for Get<'_, T, S> {
    type Output = Result<T, GetShutDown>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.queue;
        let mut state = queue.state.borrow_mut();
        let mut was_woken = false;
        if let Some(key) = self.key {
            if state.getters.poll_woken(key, cx.waker()).is_none() {
                return Poll::Pending;
            }
            self.key = None;
            was_woken = true;
        }
        if state.items.is_empty() {
            if state.shut_down {
                return Poll::Ready(Err(GetShutDown));
            }
            self.key = Some(park(&mut state.getters, cx, was_woken));
            return Poll::Pending;
        }
        if !was_woken {
            drop(state);
            std::task::ready!(coop::poll_proceed(cx));
            state = queue.state.borrow_mut();
        }
        let item = state
            .items
            .pop()
            .expect("checked non-empty; nothing ran since");
        let waker = state.putters.wake_one(());
        drop(state);
        wake_all(waker);
        Poll::Ready(Ok(item))
    }
}

impl<T, S: Store<T>> Drop for Get<'_, T, S> {
    #[inline]
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            leave_line(&self.queue.state, |state| &mut state.getters, key);
        }
    }
}

/// A parked `put` or `get` dropped: it leaves its line, and if it had been
/// woken (for a free slot, or an item) but never used the turn, passes the
/// turn on. Out of line: the usual drop finds nothing parked.
#[inline(never)]
fn leave_line<S>(
    state: &RefCell<State<S>>,
    line: impl Fn(&mut State<S>) -> &mut WaitList,
    key: WaitKey,
) {
    let waker = {
        let mut state = state.borrow_mut();
        let list = line(&mut state);
        if list.remove(key).is_some() {
            list.wake_one(())
        } else {
            None
        }
    };
    wake_all(waker);
}

/// The future of [`GenericQueue::join`].
#[must_use = "futures do nothing unless awaited"]
pub struct Join<'a, T, S: Store<T>> {
    queue: &'a GenericQueue<T, S>,
    key: Option<WaitKey>,
}

impl<T, S: Store<T>> Future for Join<'_, T, S> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.queue.state.borrow_mut();
        if let Some(key) = self.key {
            if state.joiners.poll_woken(key, cx.waker()).is_none() {
                return Poll::Pending;
            }
            self.key = None;
            return Poll::Ready(());
        }
        if state.unfinished == 0 {
            return Poll::Ready(());
        }
        self.key = Some(state.joiners.push_back(cx.waker()));
        Poll::Pending
    }
}

impl<T, S: Store<T>> Drop for Join<'_, T, S> {
    #[inline]
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.queue.state.borrow_mut().joiners.remove(key);
        }
    }
}

impl<T, S: Store<T>> std::fmt::Debug for Put<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Put").finish_non_exhaustive()
    }
}

impl<T, S: Store<T>> std::fmt::Debug for Get<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Get").finish_non_exhaustive()
    }
}

impl<T, S: Store<T>> std::fmt::Debug for Join<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Join").finish_non_exhaustive()
    }
}
