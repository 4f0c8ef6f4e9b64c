//! Tasks: spawn, await, cancel, panics, names, the cooperative budget and
//! wakers used from other threads.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use corio::{sleep, spawn, Runtime, TaskError};

fn paused() -> Runtime {
    Runtime::builder().paused(true).build().unwrap()
}

struct DropLog(Rc<RefCell<Vec<&'static str>>>, &'static str);
impl Drop for DropLog {
    fn drop(&mut self) {
        self.0.borrow_mut().push(self.1);
    }
}

#[corio::test]
async fn tasks_run_concurrently_and_return_values() {
    let a = spawn(async { 1 });
    let b = spawn(async { "two" });
    assert_eq!(a.await.unwrap(), 1);
    assert_eq!(b.await.unwrap(), "two");
}

#[corio::test]
async fn tasks_need_not_be_send() {
    let shared = Rc::new(Cell::new(0));
    let s = shared.clone();
    spawn(async move { s.set(s.get() + 1) }).await.unwrap();
    assert_eq!(shared.get(), 1);
}

#[corio::test]
async fn tasks_start_in_spawn_order() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let log = log.clone();
            spawn(async move { log.borrow_mut().push(i) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*log.borrow(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn cancel_drops_the_future_and_reaches_the_awaiter() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    paused().block_on(async move {
        let guard = DropLog(l.clone(), "dropped");
        let task = spawn(async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
            unreachable!("cancelled before the sleep ends");
        });
        sleep(Duration::from_millis(1)).await; // the task is now parked in sleep
        assert!(l.borrow().is_empty());
        assert!(task.cancel());
        assert!(
            !task.is_done(),
            "cancellation happens at the next scheduling point"
        );
        let result = task.await;
        assert!(matches!(result, Err(TaskError::Cancelled)));
        assert_eq!(*l.borrow(), vec!["dropped"]);
    });
    assert_eq!(*log.borrow(), vec!["dropped"]);
}

#[corio::test]
async fn cancel_before_first_poll_never_runs_the_future() {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let task = spawn(async move { r.set(true) });
    assert!(task.cancel());
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(!ran.get());
}

#[corio::test]
async fn cancel_after_completion_returns_false() {
    let task = spawn(async { 5 });
    corio::yield_now().await;
    assert!(task.is_done());
    assert!(!task.cancel());
    assert_eq!(task.await.unwrap(), 5);
}

#[corio::test]
async fn a_task_can_cancel_itself_and_stops_at_its_next_await() {
    let reached = Rc::new(Cell::new(0));
    let r = reached.clone();
    let slot: Rc<RefCell<Option<corio::Task<()>>>> = Rc::new(RefCell::new(None));
    let s = slot.clone();
    let task = spawn(async move {
        r.set(1);
        s.borrow().as_ref().unwrap().cancel();
        corio::yield_now().await;
        r.set(2);
    });
    *slot.borrow_mut() = Some(task);
    sleep(Duration::from_millis(5)).await;
    let task = slot.borrow_mut().take().unwrap();
    assert!(task.is_cancelled());
    assert_eq!(reached.get(), 1);
}

#[corio::test]
async fn panics_are_contained_and_returned_to_the_awaiter() {
    let task = spawn(async {
        panic!("boom (expected in this test)");
    });
    let err = task.await.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(
        corio::task::panic_message(&*err.into_panic().unwrap()),
        "boom (expected in this test)"
    );
    // The loop is still fine.
    assert_eq!(spawn(async { 1 }).await.unwrap(), 1);
}

#[corio::test]
async fn a_detached_panicking_task_does_not_disturb_others() {
    spawn(async { panic!("nobody awaits me (expected in this test)") }).detach();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(spawn(async { 2 }).await.unwrap(), 2);
}

#[corio::test]
async fn dropping_a_task_detaches_it() {
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    drop(spawn(async move {
        sleep(Duration::from_millis(5)).await;
        d.set(true);
    }));
    sleep(Duration::from_millis(30)).await;
    assert!(done.get());
}

#[corio::test]
async fn names_ids_and_locations() {
    let t = corio::spawn_named("worker", async {});
    assert_eq!(t.name(), Some("worker"));
    assert!(t.location().file().ends_with("task.rs"));
    let u = spawn(async {});
    assert_eq!(u.name(), None);
    assert_ne!(t.id(), u.id());
}

#[test]
fn budget_keeps_an_always_ready_task_from_starving_timers() {
    // The task below never meets a pending future: each zero sleep is ready
    // at once. Without the cooperative budget the loop would never get back
    // to its timers and the flag would never be set: the test would hang.
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let stop = Rc::new(Cell::new(false));
        let s = stop.clone();
        let spinner = spawn(async move {
            let mut spins = 0u64;
            while !s.get() {
                sleep(Duration::ZERO).await;
                spins += 1;
            }
            spins
        });
        let s = stop.clone();
        corio::call_later(Duration::from_millis(10), move || s.set(true));
        let spins = spinner.await.unwrap();
        assert!(spins > 0);
    });
}

#[test]
fn budget_also_lets_io_and_other_tasks_run() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let other_ran = Rc::new(Cell::new(false));
        let o = other_ran.clone();
        let done_task = spawn(async {});
        corio::yield_now().await;
        let spinner = spawn(async move {
            // Awaiting an already-finished task's sibling signal in a loop: each
            // `sleep(ZERO)` is ready; only the budget makes us yield.
            let mut n = 0;
            while !o.get() {
                sleep(Duration::ZERO).await;
                n += 1;
            }
            n
        });
        let o = other_ran.clone();
        spawn(async move { o.set(true) }).detach();
        assert!(spinner.await.unwrap() >= 1);
        done_task.await.unwrap();
    });
}

#[test]
fn waker_sent_to_another_thread_wakes_the_task() {
    use std::future::poll_fn;
    use std::task::Poll;
    let rt = Runtime::new().unwrap();
    let value = rt.block_on(async {
        let task = spawn(async {
            let mut sent = false;
            let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            poll_fn(|cx| {
                if flag.load(std::sync::atomic::Ordering::Acquire) {
                    return Poll::Ready(7);
                }
                if !sent {
                    sent = true;
                    let waker = cx.waker().clone();
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(20));
                        let extra = waker.clone(); // clone and drop on the foreign thread too
                        flag.store(true, std::sync::atomic::Ordering::Release);
                        waker.wake();
                        drop(extra);
                    });
                }
                Poll::Pending
            })
            .await
        });
        task.await.unwrap()
    });
    assert_eq!(value, 7);
}

#[test]
fn wakers_outliving_the_runtime_are_harmless() {
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let rt = Runtime::new().unwrap();
        rt.block_on(async {
            let t = spawn(std::future::poll_fn(move |cx| {
                tx.send(cx.waker().clone()).unwrap();
                std::task::Poll::<()>::Pending
            }));
            corio::yield_now().await;
            t.detach();
        });
    }
    let waker = rx.recv().unwrap();
    std::thread::spawn(move || {
        waker.wake_by_ref();
        waker.wake();
    })
    .join()
    .unwrap();
}

#[test]
fn task_allocation_is_small() {
    let size = corio::task::task_allocation_size::<std::future::Ready<()>>();
    println!(
        "task allocation for a 1-byte future: {size} bytes (header {})",
        corio::task::task_header_size()
    );
    // 56 bytes of header and 24 of stage: the arena's 80-byte class. The
    // `tracing` feature adds the task's span (40 bytes) to the header.
    let limit = if cfg!(feature = "tracing") {
        80 + 40
    } else {
        80
    };
    assert!(size <= limit, "header grew to {size} bytes");
}

#[test]
fn a_yielding_main_future_still_lets_timers_and_io_run() {
    // The block_on future yields forever until a timer callback sets the
    // flag: the loop must still check its timers every so often.
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let stop = Rc::new(Cell::new(false));
        let s = stop.clone();
        corio::call_later(Duration::from_millis(5), move || s.set(true));
        while !stop.get() {
            corio::yield_now().await;
        }
    });
}
