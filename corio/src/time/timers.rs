//! The timer store: a binary heap of deadlines over a slab of entries.
//! Cancelling removes the entry at once and leaves a stale heap node that is
//! skipped (and compacted away when stale nodes outnumber live ones).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::task::Waker;
use std::time::Instant;

use slab::Slab;

use crate::runtime::callback::Callback;

/// What happens when a timer fires.
pub(crate) enum TimerAction {
    /// Wake a task (a `Sleep`); `None` until the first poll stores a waker.
    Wake(Option<Waker>),
    /// Put a `call_later` callback on the ready queue.
    Call(Rc<dyn Callback>),
}

/// Names one timer; `seq` tells it from a later timer in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    slot: usize,
    seq: u64,
}

struct Entry {
    seq: u64,
    action: TimerAction,
}

#[derive(Default)]
pub(crate) struct Timers {
    /// (deadline, sequence, slot): equal deadlines fire in insertion order.
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    entries: Slab<Entry>,
    next_seq: u64,
}

impl Timers {
    pub(crate) fn insert(&mut self, deadline: Instant, action: TimerAction) -> TimerKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = self.entries.insert(Entry { seq, action });
        self.heap.push(Reverse((deadline, seq, slot)));
        TimerKey { slot, seq }
    }

    fn entry_mut(&mut self, key: TimerKey) -> Option<&mut Entry> {
        self.entries.get_mut(key.slot).filter(|e| e.seq == key.seq)
    }

    /// Stores the waker a `Sleep` wants woken (unless it would wake the same task).
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) {
        if let Some(entry) = self.entry_mut(key) {
            match &mut entry.action {
                TimerAction::Wake(Some(w)) if w.will_wake(waker) => {}
                action => *action = TimerAction::Wake(Some(waker.clone())),
            }
        }
    }

    /// Whether the timer is still pending.
    pub(crate) fn contains(&self, key: TimerKey) -> bool {
        self.entries.get(key.slot).is_some_and(|e| e.seq == key.seq)
    }

    /// Removes a pending timer; returns its action so the caller drops it
    /// outside any borrow.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<TimerAction> {
        self.entry_mut(key)?;
        let entry = self.entries.remove(key.slot);
        if self.heap.len() > 1024 && self.heap.len() > 2 * self.entries.len() {
            let entries = &self.entries;
            self.heap.retain(|Reverse((_, seq, slot))| {
                entries.get(*slot).is_some_and(|e| e.seq == *seq)
            });
        }
        Some(entry.action)
    }

    /// The earliest pending deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((deadline, seq, slot))) = self.heap.peek().copied() {
            if self.entries.get(slot).is_some_and(|e| e.seq == seq) {
                return Some(deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes every timer due at `now`, in deadline order, into `out`.
    pub(crate) fn expire(&mut self, now: Instant, out: &mut Vec<TimerAction>) {
        while let Some(Reverse((deadline, seq, slot))) = self.heap.peek().copied() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if self.entries.get(slot).is_some_and(|e| e.seq == seq) {
                out.push(self.entries.remove(slot).action);
            }
        }
    }
}
