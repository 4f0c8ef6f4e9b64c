//! What spawning costs in allocations (counted with a global allocator):
//! none once a loop has task memory (cells come from its arena, and come
//! back to it), one for a future too big for the arena.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other's
    // allocations (const, without destructors: safe to touch in alloc).
    static COUNTING_HERE: Cell<bool> = const { Cell::new(false) };
    static ALLOCATED_HERE: Cell<usize> = const { Cell::new(0) };
}

/// Counts this thread's allocations while `on`.
fn counting(on: bool) {
    COUNTING_HERE.with(|c| c.set(on));
}

/// This thread's allocations counted so far.
fn allocations() -> usize {
    ALLOCATED_HERE.with(Cell::get)
}

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING_HERE.try_with(|on| {
            if on.get() {
                ALLOCATED_HERE.with(|n| n.set(n.get() + 1));
            }
        });
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Spawns and joins `n` tasks at once, so that the growth of the ready
/// queue and the registry is not counted after (and the arena's first
/// chunk exists).
async fn warm_up(n: usize) {
    let warm: Vec<_> = (0..n).map(|_| corio::spawn(async {})).collect();
    for t in warm {
        t.await.unwrap();
    }
}

#[test]
fn spawn_costs_no_allocation_from_the_loops_arena() {
    corio::run(async {
        warm_up(1000).await;
        let mut tasks = Vec::with_capacity(100);
        counting(true);
        for i in 0..100u64 {
            tasks.push(corio::spawn(async move { i }));
        }
        counting(false);
        assert_eq!(allocations(), 0, "no allocation per task");
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), i as u64);
        }
        // Finished tasks give their cells back: a hundred thousand more
        // spawned and joined in turn still allocate nothing.
        counting(true);
        for i in 0..100_000u64 {
            assert_eq!(corio::spawn(async move { i }).await.unwrap(), i);
        }
        counting(false);
        assert_eq!(allocations(), 0, "cells are reused");
    });
}

#[test]
fn a_future_too_big_for_the_arena_costs_one_allocation() {
    corio::run(async {
        warm_up(100).await;
        let mut tasks = Vec::with_capacity(100);
        counting(true);
        for i in 0..100u8 {
            let big = [i; 4096];
            tasks.push(corio::spawn(async move { big[4095] }));
        }
        counting(false);
        assert_eq!(allocations(), 100, "one allocation per big task");
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), i as u8);
        }
    });
}

#[test]
fn a_raw_runnable_costs_corio_no_allocation() {
    use std::rc::Rc;

    use corio::runtime::{RawRunnable, RcRunnable};

    /// A foreign callback object, reference counted by its owner (as a
    /// Python handle is): the queue entry is the object itself.
    struct Handle(Cell<u32>);
    impl RcRunnable for Handle {
        fn run(&self) {
            self.0.set(self.0.get() + 1);
        }
    }

    let rt = corio::Runtime::new().unwrap();
    let handle = Rc::new(Handle(Cell::new(0)));
    // Warm up the ready queue.
    for _ in 0..1000 {
        rt.call_soon_raw(RawRunnable::from_rc(handle.clone()));
    }
    rt.run_once();
    assert_eq!(handle.0.get(), 1000);
    counting(true);
    for _ in 0..1000 {
        rt.call_soon_raw(RawRunnable::from_rc(handle.clone()));
    }
    rt.run_once();
    counting(false);
    assert_eq!(allocations(), 0, "no allocation per callback");
    assert_eq!(handle.0.get(), 2000);
    assert_eq!(Rc::strong_count(&handle), 1, "every reference released");
}
