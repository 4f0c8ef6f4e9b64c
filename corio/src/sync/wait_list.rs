//! A FIFO of parked tasks, shared by every primitive in `sync` and `queue`.
//!
//! A waiter is a slot in a slab plus its place in line. Waking marks the
//! slot *woken* (optionally with a value) and takes it out of line; the
//! waiter then removes its slot when it completes or is dropped. `remove`
//! says whether the slot had been woken, so a waiter dropped after being
//! woken can pass the wake-up on: that is what keeps cancellation from
//! losing permits, items or notifications.

use std::collections::VecDeque;
use std::task::Waker;

use slab::Slab;

/// Names one waiter; `seq` tells it from a later waiter in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitKey {
    slot: usize,
    seq: u64,
}

struct Node<V> {
    seq: u64,
    waker: Option<Waker>,
    /// `Some` once woken, with the value the waker passed.
    woken: Option<V>,
}

pub(crate) struct WaitList<V = ()> {
    nodes: Slab<Node<V>>,
    /// Waiters not yet woken, in order; may hold stale keys of removed ones.
    line: VecDeque<WaitKey>,
    /// Waiters in line (not woken, not removed).
    waiting: usize,
    next_seq: u64,
}

impl<V> Default for WaitList<V> {
    fn default() -> Self {
        WaitList {
            nodes: Slab::new(),
            line: VecDeque::new(),
            waiting: 0,
            next_seq: 0,
        }
    }
}

impl<V: Clone> WaitList<V> {
    fn insert(&mut self, waker: &Waker) -> WaitKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = self.nodes.insert(Node {
            seq,
            waker: Some(waker.clone()),
            woken: None,
        });
        self.waiting += 1;
        WaitKey { slot, seq }
    }

    /// Joins the back of the line.
    pub(crate) fn push_back(&mut self, waker: &Waker) -> WaitKey {
        let key = self.insert(waker);
        self.line.push_back(key);
        key
    }

    /// Joins the front of the line (a woken waiter that must wait again
    /// keeps its turn).
    pub(crate) fn push_front(&mut self, waker: &Waker) -> WaitKey {
        let key = self.insert(waker);
        self.line.push_front(key);
        key
    }

    fn node(&self, key: WaitKey) -> Option<&Node<V>> {
        self.nodes.get(key.slot).filter(|n| n.seq == key.seq)
    }

    /// The step every parked future takes when polled again: if the waiter
    /// was woken, it leaves the line and gets the value it was woken with;
    /// otherwise its stored waker is refreshed and it keeps waiting.
    pub(crate) fn poll_woken(&mut self, key: WaitKey, waker: &Waker) -> Option<V> {
        let node = self.nodes.get_mut(key.slot).filter(|n| n.seq == key.seq)?;
        if node.woken.is_some() {
            return self.remove(key);
        }
        match &node.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => node.waker = Some(waker.clone()),
        }
        None
    }

    /// Removes a waiter (done or cancelled). Returns the value it was woken
    /// with, if it was woken: a cancelled waiter must then pass it on.
    pub(crate) fn remove(&mut self, key: WaitKey) -> Option<V> {
        self.node(key)?;
        let node = self.nodes.remove(key.slot);
        if node.woken.is_none() {
            self.waiting -= 1;
            if self.line.len() > 32 && self.line.len() > 2 * self.waiting {
                let nodes = &self.nodes;
                self.line
                    .retain(|k| nodes.get(k.slot).is_some_and(|n| n.seq == k.seq));
            }
        }
        node.woken
    }

    /// Wakes the first waiter in line with `value`; returns its waker to
    /// wake once the caller's borrows are released, or `None` if nobody waits.
    pub(crate) fn wake_one(&mut self, value: V) -> Option<Waker> {
        while let Some(key) = self.line.pop_front() {
            if let Some(node) = self.nodes.get_mut(key.slot).filter(|n| n.seq == key.seq) {
                node.woken = Some(value);
                self.waiting -= 1;
                return Some(node.waker.take().expect("a waiter in line has a waker"));
            }
        }
        None
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
