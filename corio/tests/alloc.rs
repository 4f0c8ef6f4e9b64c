//! A spawned task costs exactly one allocation (counted with a global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
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

#[test]
fn spawn_costs_one_allocation() {
    corio::run(async {
        // Warm up the queue and registry so their growth is not counted.
        let warm: Vec<_> = (0..1000).map(|_| corio::spawn(async {})).collect();
        for t in warm {
            t.await.unwrap();
        }
        let mut tasks = Vec::with_capacity(100);
        COUNTING.store(true, Ordering::Relaxed);
        for i in 0..100u64 {
            tasks.push(corio::spawn(async move { i }));
        }
        COUNTING.store(false, Ordering::Relaxed);
        assert_eq!(
            ALLOCATIONS.load(Ordering::Relaxed),
            100,
            "one allocation per task"
        );
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), i as u64);
        }
    });
}
