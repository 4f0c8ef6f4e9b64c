//! A task's reference count stays exact whatever its wakers do: the first
//! waker cloned during a task's own poll takes over the poll's reference
//! (corio/src/runtime/task/running.rs), so these tests clone, drop, wake
//! and send wakers during and after polls, on the loop's thread and on
//! others, and check that every task cell is freed exactly once.
//!
//! The futures here are padded past the task arena's largest cell and
//! aligned to `PAD_ALIGN`, so each cell comes from the global allocator,
//! which this binary counts (only blocks of that alignment: nothing else
//! here asks for it, so the test harness's own allocations on other
//! threads, such as a results channel's block allocated when another test
//! finishes, do not count): a count one too high leaks the cell (the count
//! of live cells stays up), one too low frees it early or twice (the count
//! goes below zero, or the run crashes). `valgrind --tool=memcheck` on this binary also finds no
//! invalid access (see docs/architecture.md, "Tasks").

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::mpsc;
use std::task::{Poll, Waker};

/// Live allocations aligned to `PAD_ALIGN`: the padded task cells.
static LIVE_BIG: AtomicIsize = AtomicIsize::new(0);
/// Task cells allocated so far (so a check knows it counted something).
static MADE: AtomicIsize = AtomicIsize::new(0);
const BIG: usize = 4096;
const PAD_ALIGN: usize = 1024;

/// Padding that makes a future's task cell big and oddly aligned.
#[repr(align(1024))]
#[allow(dead_code)] // only its size and alignment matter
struct Pad([u8; BIG]);

fn is_cell(layout: Layout) -> bool {
    layout.align() == PAD_ALIGN && layout.size() >= BIG
}

struct Counting;

// SAFETY: forwards to the system allocator, only counting task cells.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_cell(layout) {
            LIVE_BIG.fetch_add(1, Ordering::SeqCst);
            MADE.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_cell(layout) {
            LIVE_BIG.fetch_sub(1, Ordering::SeqCst);
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One test at a time: the count of live cells is process-wide.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `body` on a fresh loop and checks that every big cell it made was
/// freed once the loop is gone.
fn check_cells_freed(body: impl FnOnce(Rc<corio::Runtime>)) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = LIVE_BIG.load(Ordering::SeqCst);
    let made_before = MADE.load(Ordering::SeqCst);
    body(Rc::new(corio::Runtime::new().unwrap()));
    let after = LIVE_BIG.load(Ordering::SeqCst);
    assert!(
        MADE.load(Ordering::SeqCst) > made_before,
        "no padded task cell was counted: the check would see nothing"
    );
    assert_eq!(after, before, "task cells leaked (>0) or freed twice (<0)");
}

/// `future`, padded so that its task cell is bigger than `BIG` and aligned
/// to `PAD_ALIGN`.
fn padded<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let pad = Pad([0u8; BIG]);
    async move {
        let out = future.await;
        std::hint::black_box(&pad);
        out
    }
}

/// A slot a task parks its waker in, and someone else wakes it from.
type Parked = Rc<RefCell<Option<Waker>>>;

/// The waker parked in `slot`, once a task parked one (yielding until then).
async fn take_parked(slot: &Parked) -> Waker {
    for _ in 0..100 {
        if let Some(waker) = slot.borrow_mut().take() {
            return waker;
        }
        corio::yield_now().await;
    }
    panic!("nothing parked after 100 turns of the loop")
}

/// Pending until `slot` was woken: parks a clone of its waker in `slot`
/// at each poll (the clone that takes over the poll's reference).
async fn park_in(slot: Parked, times: usize) {
    let mut polls = 0;
    poll_fn(|cx| {
        polls += 1;
        if polls > times {
            return Poll::Ready(());
        }
        *slot.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

#[test]
fn a_parked_task_woken_by_its_stored_waker_is_freed_once() {
    check_cells_freed(|rt| {
        rt.block_on(async {
            let slot: Parked = Rc::default();
            let task = corio::spawn(padded(park_in(slot.clone(), 3)));
            for _ in 0..3 {
                take_parked(&slot).await.wake();
            }
            task.await.unwrap();
        });
    });
}

#[test]
fn clones_dropped_and_woken_during_the_poll_itself() {
    check_cells_freed(|rt| {
        rt.block_on(async {
            let slot: Parked = Rc::default();
            let inner = slot.clone();
            let mut polls = 0;
            let task = corio::spawn(padded(poll_fn(move |cx| {
                polls += 1;
                // The first clone takes the poll's reference; drop it at
                // once, clone again (now counted), wake one by value (the
                // task is running: a wake-up for after this poll), keep one.
                let lent = cx.waker().clone();
                drop(lent);
                let counted = cx.waker().clone();
                let another = counted.clone();
                another.wake();
                *inner.borrow_mut() = Some(counted);
                if polls < 3 {
                    Poll::Pending
                } else {
                    Poll::Ready(polls)
                }
            })));
            assert_eq!(task.await.unwrap(), 3);
            // The last parked clone outlives the task; dropping it now frees
            // the cell.
            drop(slot.borrow_mut().take());
        });
    });
}

#[test]
fn a_waker_taken_over_and_dropped_on_another_thread_during_the_poll() {
    check_cells_freed(|rt| {
        rt.block_on(async {
            let (to_thread, wakers) = mpsc::channel::<Waker>();
            let (done_tx, done) = mpsc::channel::<()>();
            let dropper = std::thread::spawn(move || {
                for waker in wakers {
                    drop(waker);
                    done_tx.send(()).unwrap();
                }
            });
            let slot: Parked = Rc::default();
            let inner = slot.clone();
            let mut polls = 0;
            let task = corio::spawn(padded(poll_fn(move |cx| {
                polls += 1;
                // The clone holding the poll's reference goes to another
                // thread and is dropped there before this poll ends.
                to_thread.send(cx.waker().clone()).unwrap();
                done.recv().unwrap();
                if polls < 4 {
                    *inner.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })));
            for _ in 0..3 {
                take_parked(&slot).await.wake();
            }
            task.await.unwrap();
            drop(slot);
            dropper.join().unwrap();
        });
    });
}

#[test]
fn a_waker_taken_over_wakes_the_task_from_another_thread() {
    check_cells_freed(|rt| {
        rt.block_on(async {
            let mut polls = 0;
            let task = corio::spawn(padded(poll_fn(move |cx| {
                polls += 1;
                if polls == 3 {
                    return Poll::Ready(polls);
                }
                let waker = cx.waker().clone();
                std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    waker.wake();
                });
                Poll::Pending
            })));
            assert_eq!(task.await.unwrap(), 3);
        });
    });
}

#[test]
fn a_task_completing_with_its_waker_lent_out() {
    check_cells_freed(|rt| {
        let kept: Parked = Rc::default();
        rt.block_on(async {
            let inner = kept.clone();
            let task = corio::spawn(padded(poll_fn(move |cx| {
                // Lent, then the task completes in the same poll.
                *inner.borrow_mut() = Some(cx.waker().clone());
                Poll::Ready(7)
            })));
            assert_eq!(task.await.unwrap(), 7);
            // Detached, and its waker lent out, too.
            let inner = kept.clone();
            drop(corio::spawn(padded(poll_fn(move |cx| {
                *inner.borrow_mut() = Some(cx.waker().clone());
                Poll::Ready(())
            }))));
            corio::yield_now().await;
        });
        // Waking a completed task's waker is a no-op, dropping it frees.
        kept.borrow_mut().take().expect("kept").wake();
    });
}

#[test]
fn an_eager_task_polled_inside_a_poll_whose_reference_is_lent() {
    check_cells_freed(|rt| {
        let inner_rt = rt.clone();
        rt.block_on(async move {
            let outer_slot: Parked = Rc::default();
            let inner_slot: Parked = Rc::default();
            let (o, i) = (outer_slot.clone(), inner_slot.clone());
            let outer = corio::spawn(padded(async move {
                let mut eager = None;
                let mut polls = 0;
                poll_fn(|cx| {
                    polls += 1;
                    if polls > 2 {
                        return Poll::Ready(());
                    }
                    // Lend this poll's reference, then poll another task
                    // inside this poll (an eager spawn), which lends its own.
                    *o.borrow_mut() = Some(cx.waker().clone());
                    if eager.is_none() {
                        eager = Some(inner_rt.spawn_eager(padded(park_in(i.clone(), 1))));
                    }
                    Poll::Pending
                })
                .await;
                eager.take().expect("spawned").await.unwrap();
            }));
            take_parked(&outer_slot).await.wake();
            take_parked(&inner_slot).await.wake();
            take_parked(&outer_slot).await.wake();
            outer.await.unwrap();
        });
    });
}

#[test]
fn the_loop_closing_on_tasks_whose_wakers_are_lent() {
    check_cells_freed(|rt| {
        let slots: Vec<Parked> = (0..10).map(|_| Parked::default()).collect();
        rt.block_on(async {
            for slot in &slots {
                drop(corio::spawn(padded(park_in(slot.clone(), usize::MAX))));
            }
            for _ in 0..3 {
                corio::yield_now().await;
            }
            assert!(slots.iter().all(|slot| slot.borrow().is_some()));
        });
        // The loop is dropped with every task parked and its lent waker
        // held here; the wakers go after the loop.
        drop(rt);
        for slot in slots {
            slot.borrow_mut().take().expect("parked").wake();
        }
    });
}
