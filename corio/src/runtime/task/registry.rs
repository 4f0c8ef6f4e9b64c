//! The loop's registry of live tasks (those not yet complete), so that
//! closing the loop can cancel them and `all_tasks` can list them.
//!
//! A slab of one word per slot: a task pointer (even, it is aligned) owning
//! one reference, or a vacant slot's link to the next vacant one (odd).
//! Half the memory of `Slab<TaskRef>`, whose slots are two words; a loop
//! spawning a million tasks touches it for every one.

use std::ptr::NonNull;

use super::raw::{Header, TaskRef};

/// No vacant slot (survives the shift that links vacant slots).
const NONE: usize = usize::MAX >> 1;

pub(crate) struct Registry {
    slots: Vec<usize>,
    /// The first vacant slot, or `NONE`.
    vacant: usize,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            slots: Vec::new(),
            vacant: NONE,
        }
    }

    /// Keeps `task` (its reference) and returns its key.
    #[inline]
    pub(crate) fn insert(&mut self, task: TaskRef) -> usize {
        let word = task.into_ptr().as_ptr() as usize;
        debug_assert_eq!(word & 1, 0, "task headers are aligned");
        if self.vacant == NONE {
            self.slots.push(word);
            self.slots.len() - 1
        } else {
            let key = self.vacant;
            self.vacant = self.slots[key] >> 1;
            self.slots[key] = word;
            key
        }
    }

    /// Whether the slot `key` holds `task` (and so a reference to it).
    pub(crate) fn holds(&self, key: usize, task: NonNull<Header>) -> bool {
        self.slots.get(key) == Some(&(task.as_ptr() as usize))
    }

    /// Takes back the reference kept for `task` under `key`; `None` if that
    /// slot does not hold this task (already removed).
    #[inline]
    pub(crate) fn remove(&mut self, key: usize, task: NonNull<Header>) -> Option<TaskRef> {
        let slot = self.slots.get_mut(key)?;
        if *slot != task.as_ptr() as usize {
            return None;
        }
        *slot = (self.vacant << 1) | 1;
        self.vacant = key;
        // SAFETY: the slot held this pointer, owning one reference, which
        // moves out now (the slot is vacant).
        Some(unsafe { TaskRef::from_ptr(task) })
    }

    /// The live tasks, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Header> {
        self.slots.iter().filter(|&&w| w & 1 == 0).map(|&w| {
            // SAFETY: an even slot owns a reference, so the task is alive
            // while the registry is borrowed.
            unsafe { &*(w as *const Header) }
        })
    }

    /// Empties the registry, handing out the references it kept.
    pub(crate) fn drain(&mut self) -> Vec<TaskRef> {
        let tasks = std::mem::take(&mut self.slots)
            .into_iter()
            .filter(|&w| w & 1 == 0)
            // SAFETY: each even slot owned one reference; the slots are gone.
            .map(|w| unsafe { TaskRef::from_ptr(NonNull::new_unchecked(w as *mut Header)) })
            .collect();
        self.vacant = NONE;
        tasks
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        drop(self.drain());
    }
}
