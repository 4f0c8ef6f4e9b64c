//! A FIFO of parked tasks, shared by every primitive in `sync` and `queue`.
//!
//! A waiter is a slot in a table, and while it waits, a link in a doubly
//! linked line threaded through the table. Waking marks the slot *woken*
//! (optionally with a value) and unlinks it; the waiter then removes its
//! slot when it completes or is dropped. `remove` says whether the slot had
//! been woken, so a waiter dropped after being woken can pass the wake-up
//! on: that is what keeps cancellation from losing permits, items or
//! notifications.
//!
//! The line lives in the slots themselves (no second queue of keys) so that
//! parking is one slot write and leaving the line from anywhere is O(1).

use std::task::Waker;

/// "No slot": the end of the line or of the free list.
const NIL: u32 = u32::MAX;

/// Names one waiter; `seq` tells it from a later waiter in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitKey {
    slot: u32,
    seq: u32,
}

struct Slot<V> {
    /// Odd while a waiter holds the slot, even while it is free; bumped on
    /// every insert and remove, so a stale key never matches.
    seq: u32,
    /// In line: the neighbours. Free: `next` is the next free slot.
    prev: u32,
    next: u32,
    /// The waiter's waker until it is woken.
    waker: Option<Waker>,
    /// `Some` once woken, with the value the waker passed.
    woken: Option<V>,
}

pub(crate) struct WaitList<V = ()> {
    slots: Vec<Slot<V>>,
    /// First free slot (`NIL`: none, grow the table).
    free: u32,
    /// The line of waiters not yet woken.
    head: u32,
    tail: u32,
    /// Waiters in line (not woken, not removed).
    waiting: usize,
}

impl<V> Default for WaitList<V> {
    fn default() -> Self {
        WaitList {
            slots: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
            waiting: 0,
        }
    }
}

impl<V: Clone> WaitList<V> {
    /// Takes a free slot for a waiter with `waker`, not yet linked.
    #[inline(always)]
    fn insert(&mut self, waker: &Waker) -> u32 {
        let index = if self.free != NIL {
            let index = self.free;
            let slot = &mut self.slots[index as usize];
            self.free = slot.next;
            slot.seq = slot.seq.wrapping_add(1);
            slot.waker = Some(waker.clone());
            index
        } else {
            let index = u32::try_from(self.slots.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("more than u32::MAX - 1 waiters on one primitive");
            self.slots.push(Slot {
                seq: 1,
                prev: NIL,
                next: NIL,
                waker: Some(waker.clone()),
                woken: None,
            });
            index
        };
        self.waiting += 1;
        index
    }

    fn key(&self, index: u32) -> WaitKey {
        WaitKey {
            slot: index,
            seq: self.slots[index as usize].seq,
        }
    }

    /// Joins the back of the line.
    #[inline]
    pub(crate) fn push_back(&mut self, waker: &Waker) -> WaitKey {
        let index = self.insert(waker);
        self.link(index, self.tail, NIL);
        self.key(index)
    }

    /// Joins the front of the line (a woken waiter that must wait again
    /// keeps its turn).
    pub(crate) fn push_front(&mut self, waker: &Waker) -> WaitKey {
        let index = self.insert(waker);
        self.link(index, NIL, self.head);
        self.key(index)
    }

    /// Puts slot `index` in the line between `prev` and `next` (`NIL`: the
    /// line's end), the reverse of [`unlink`](Self::unlink).
    #[inline(always)]
    fn link(&mut self, index: u32, prev: u32, next: u32) {
        let slot = &mut self.slots[index as usize];
        slot.prev = prev;
        slot.next = next;
        match prev {
            NIL => self.head = index,
            prev => self.slots[prev as usize].next = index,
        }
        match next {
            NIL => self.tail = index,
            next => self.slots[next as usize].prev = index,
        }
    }

    /// Takes slot `index` out of the line.
    #[inline]
    fn unlink(&mut self, index: u32) {
        let slot = &self.slots[index as usize];
        let (prev, next) = (slot.prev, slot.next);
        match prev {
            NIL => self.head = next,
            prev => self.slots[prev as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.slots[next as usize].prev = prev,
        }
        self.waiting -= 1;
    }

    fn slot_mut(&mut self, key: WaitKey) -> Option<&mut Slot<V>> {
        self.slots
            .get_mut(key.slot as usize)
            .filter(|slot| slot.seq == key.seq)
    }

    /// The step every parked future takes when polled again: if the waiter
    /// was woken, it leaves the line and gets the value it was woken with;
    /// otherwise its stored waker is refreshed and it keeps waiting.
    #[inline]
    pub(crate) fn poll_woken(&mut self, key: WaitKey, waker: &Waker) -> Option<V> {
        let slot = self.slot_mut(key)?;
        if slot.woken.is_some() {
            return self.remove(key);
        }
        match &slot.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => slot.waker = Some(waker.clone()),
        }
        None
    }

    /// Removes a waiter (done or cancelled). Returns the value it was woken
    /// with, if it was woken: a cancelled waiter must then pass it on.
    #[inline]
    pub(crate) fn remove(&mut self, key: WaitKey) -> Option<V> {
        let slot = self.slot_mut(key)?;
        let woken = slot.woken.take();
        let waker = slot.waker.take();
        slot.seq = slot.seq.wrapping_add(1);
        if woken.is_none() {
            self.unlink(key.slot);
        }
        let free = self.free;
        self.slots[key.slot as usize].next = free;
        self.free = key.slot;
        drop(waker);
        woken
    }

    /// Wakes the first waiter in line with `value`; returns its waker to
    /// wake once the caller's borrows are released, or `None` if nobody waits.
    #[inline]
    pub(crate) fn wake_one(&mut self, value: V) -> Option<Waker> {
        let index = self.head;
        if index == NIL {
            return None;
        }
        self.unlink(index);
        let slot = &mut self.slots[index as usize];
        slot.woken = Some(value);
        Some(slot.waker.take().expect("a waiter in line has a waker"))
    }

    /// Wakes everyone in line with `value`.
    pub(crate) fn wake_all(&mut self, value: V) -> Vec<Waker> {
        let mut wakers = Vec::with_capacity(self.waiting);
        while let Some(waker) = self.wake_one(value.clone()) {
            wakers.push(waker);
        }
        wakers
    }

    /// Waiters in line (not yet woken).
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }
}

/// Wakes wakers collected under a borrow, after the borrow ended.
pub(crate) fn wake_all(wakers: impl IntoIterator<Item = Waker>) {
    for waker in wakers {
        waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// A waker that records its number in `order` when woken.
    struct Named(usize, Arc<std::sync::Mutex<Vec<usize>>>);

    impl Wake for Named {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    fn wakers(n: usize) -> (Vec<Waker>, Arc<std::sync::Mutex<Vec<usize>>>) {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let wakers = (0..n)
            .map(|i| Waker::from(Arc::new(Named(i, order.clone()))))
            .collect();
        (wakers, order)
    }

    fn woken_order(list: &mut WaitList, order: &std::sync::Mutex<Vec<usize>>) -> Vec<usize> {
        wake_all(list.wake_all(()));
        std::mem::take(&mut order.lock().unwrap())
    }

    #[test]
    fn wakes_in_arrival_order_with_front_pushes_first() {
        let (w, order) = wakers(4);
        let mut list = WaitList::default();
        list.push_back(&w[0]);
        list.push_back(&w[1]);
        list.push_front(&w[2]);
        list.push_back(&w[3]);
        assert_eq!(list.waiting(), 4);
        assert_eq!(woken_order(&mut list, &order), [2, 0, 1, 3]);
        assert_eq!(list.waiting(), 0);
    }

    #[test]
    fn removing_from_the_middle_ends_or_front_keeps_the_rest_in_order() {
        let (w, order) = wakers(5);
        let mut list = WaitList::default();
        let keys: Vec<_> = w.iter().map(|w| list.push_back(w)).collect();
        assert_eq!(list.remove(keys[2]), None);
        assert_eq!(list.remove(keys[0]), None);
        assert_eq!(list.remove(keys[4]), None);
        assert_eq!(list.waiting(), 2);
        assert_eq!(woken_order(&mut list, &order), [1, 3]);
    }

    #[test]
    fn a_woken_waiter_gets_its_value_once_and_its_slot_is_reused() {
        let (w, order) = wakers(3);
        let mut list = WaitList::<bool>::default();
        let a = list.push_back(&w[0]);
        let b = list.push_back(&w[1]);
        wake_all(list.wake_one(true));
        assert_eq!(*order.lock().unwrap(), [0]);
        assert_eq!(list.waiting(), 1);
        // Still waiting: refreshes, not woken.
        assert_eq!(list.poll_woken(b, &w[1]), None);
        assert_eq!(list.poll_woken(a, &w[0]), Some(true));
        // Gone: the stale key matches nothing, even once the slot is reused.
        let c = list.push_back(&w[2]);
        assert_eq!(c.slot, a.slot);
        assert_eq!(list.remove(a), None);
        assert_eq!(list.poll_woken(a, &w[0]), None);
        assert_eq!(list.waiting(), 2);
        wake_all(list.wake_all(false));
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
        assert_eq!(list.remove(b), Some(false));
        assert_eq!(list.remove(c), Some(false));
        assert_eq!(list.wake_one(true).map(|_| ()), None);
    }

    #[test]
    fn wakers_are_dropped_when_their_waiter_leaves() {
        struct Counted(Arc<AtomicUsize>);
        impl Wake for Counted {
            fn wake(self: Arc<Self>) {}
        }
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let waker = Waker::from(Arc::new(Counted(dropped.clone())));
        let mut list = WaitList::<()>::default();
        let keys: Vec<_> = (0..3).map(|_| list.push_back(&waker)).collect();
        drop(waker);
        list.remove(keys[1]);
        wake_all(list.wake_one(()));
        list.remove(keys[0]);
        assert_eq!(
            dropped.load(Ordering::Relaxed),
            0,
            "one waiter still holds it"
        );
        list.remove(keys[2]);
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
    }
}
