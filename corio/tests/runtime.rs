//! The loop itself: block_on, run_forever/stop, callbacks, closing, misuse.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use corio::{call_at, call_later, call_soon, Runtime};

mod common;

fn paused() -> Runtime {
    Runtime::builder().paused(true).build().unwrap()
}

#[test]
fn run_returns_the_future_output() {
    assert_eq!(corio::run(async { 40 + 2 }), 42);
}

#[test]
fn call_soon_runs_in_fifo_order_after_current_step() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        for i in 0..5 {
            let log = log.clone();
            call_soon(move || log.borrow_mut().push(i));
        }
        log.borrow_mut().push(100); // runs before any callback: they wait for the next iteration
        corio::yield_now().await;
        corio::yield_now().await;
    });
    assert_eq!(*log.borrow(), vec![100, 0, 1, 2, 3, 4]);
}

#[test]
fn the_main_future_resumes_in_its_turn_beside_a_yielding_task() {
    // The loop may start an iteration without returning to `block_on`
    // while a task keeps yielding; the main future woken meanwhile must
    // still run at the next iteration, as asyncio's main task would.
    let steps = Rc::new(std::cell::Cell::new(0u32));
    corio::run(async {
        let (tx, rx) = corio::sync::oneshot::channel();
        let counted = steps.clone();
        let busy = corio::spawn(async move {
            tx.send(()).unwrap();
            for _ in 0..50 {
                counted.set(counted.get() + 1);
                corio::yield_now().await;
            }
        });
        rx.await.unwrap();
        assert!(
            steps.get() <= 2,
            "main resumed after {} of the task's steps",
            steps.get()
        );
        busy.await.unwrap();
    });
    // And `run_forever` stops at the iteration after `stop()`.
    let rt = Runtime::new().unwrap();
    let after_stop = Rc::new(std::cell::Cell::new(0u32));
    let counted = after_stop.clone();
    let _spinner = rt.spawn(async move {
        corio::yield_now().await;
        corio::stop();
        loop {
            counted.set(counted.get() + 1);
            corio::yield_now().await;
        }
    });
    rt.run_forever();
    assert!(
        after_stop.get() <= 2,
        "ran {} steps after stop()",
        after_stop.get()
    );
}

#[test]
fn cancelled_callbacks_do_not_run_and_drop_their_closure() {
    let ran = Rc::new(RefCell::new(Vec::new()));
    let captured = Rc::new(());
    corio::run(async {
        let r = ran.clone();
        let c = captured.clone();
        let h = call_soon(move || {
            let _c = c;
            r.borrow_mut().push("soon")
        });
        h.cancel();
        assert!(h.is_cancelled());
        assert_eq!(Rc::strong_count(&captured), 1, "closure dropped on cancel");
        let r = ran.clone();
        let later = call_later(Duration::from_millis(1), move || {
            r.borrow_mut().push("later")
        });
        later.cancel();
        corio::sleep(Duration::from_millis(20)).await;
    });
    assert!(ran.borrow().is_empty());
}

#[test]
fn timers_fire_in_deadline_order_with_ties_in_scheduling_order() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let rt = paused();
    rt.block_on(async {
        let start = corio::time::now();
        for (ms, tag) in [(30, "c"), (10, "a1"), (20, "b"), (10, "a2"), (0, "z")] {
            let log = log.clone();
            call_later(Duration::from_millis(ms), move || {
                log.borrow_mut().push(tag)
            });
        }
        let log2 = log.clone();
        let h = call_at(start + Duration::from_millis(25), move || {
            log2.borrow_mut().push("at25")
        });
        assert_eq!(h.when(), Some(start + Duration::from_millis(25)));
        corio::sleep(Duration::from_millis(100)).await;
        assert_eq!(corio::time::now() - start, Duration::from_millis(100));
    });
    assert_eq!(*log.borrow(), vec!["z", "a1", "a2", "b", "at25", "c"]);
}

#[test]
fn a_panicking_callback_does_not_stop_the_loop() {
    let after = Rc::new(RefCell::new(false));
    corio::run(async {
        call_soon(|| panic!("callback boom (expected in this test)"));
        let a = after.clone();
        call_soon(move || *a.borrow_mut() = true);
        corio::yield_now().await;
        corio::yield_now().await;
    });
    assert!(*after.borrow());
}

#[test]
fn run_forever_until_stop() {
    let rt = Runtime::new().unwrap();
    let count = Rc::new(RefCell::new(0));
    let c = count.clone();
    rt.spawn(async move {
        for _ in 0..3 {
            corio::sleep(Duration::from_millis(1)).await;
            *c.borrow_mut() += 1;
        }
        corio::stop();
    })
    .detach();
    rt.run_forever();
    assert_eq!(*count.borrow(), 3);
}

#[test]
fn run_iterations_runs_until_the_embedder_breaks() {
    // An embedder's own run_forever: one iteration per call of `next`, the
    // loop entered once for all of them; a callback's own call_soon runs at
    // the next iteration, and `Continue(true)` never blocks in the poll
    // (a pending timer an hour away would otherwise hold it).
    let rt = Runtime::new().unwrap();
    let ran = Rc::new(RefCell::new(Vec::new()));
    let r = ran.clone();
    rt.call_soon(move || {
        r.borrow_mut().push("first");
        let r = r.clone();
        call_soon(move || r.borrow_mut().push("second"));
    });
    rt.call_later(Duration::from_secs(3600), || panic!("an hour passed"));
    let mut iterations = 0;
    let started = std::time::Instant::now();
    let result = rt.run_iterations(|| {
        iterations += 1;
        if iterations > 3 {
            return std::ops::ControlFlow::Break(iterations);
        }
        std::ops::ControlFlow::Continue(true)
    });
    assert_eq!(result, 4);
    assert_eq!(*ran.borrow(), ["first", "second"]);
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn stop_from_another_thread_wakes_an_idle_loop() {
    let rt = Runtime::new().unwrap();
    let handle = rt.handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        handle.stop();
    });
    rt.run_forever(); // idle: blocks in epoll until the stop arrives
    t.join().unwrap();
}

#[test]
#[allow(clippy::async_yields_async)] // returns the Task handle out of block_on on purpose
fn closing_the_runtime_cancels_pending_tasks_and_runs_destructors() {
    struct Flag(Rc<RefCell<Vec<&'static str>>>, &'static str);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.borrow_mut().push(self.1);
        }
    }
    let log = Rc::new(RefCell::new(Vec::new()));
    let rt = Runtime::new().unwrap();
    let l = log.clone();
    let task = rt.block_on(async move {
        let flag = Flag(l.clone(), "sleeper dropped");
        let t = corio::spawn(async move {
            let _flag = flag;
            corio::sleep(Duration::from_secs(3600)).await;
        });
        let never_started = Flag(l, "unstarted dropped");
        corio::spawn(async move {
            let _f = never_started;
        })
        .detach();
        corio::yield_now().await; // lets the sleeper start; the other runs too
        t
    });
    assert!(log.borrow().contains(&"unstarted dropped"));
    assert!(!log.borrow().contains(&"sleeper dropped"));
    drop(rt);
    assert!(log.borrow().contains(&"sleeper dropped"));
    assert!(task.is_done() && task.is_cancelled());
}

#[test]
fn nested_block_on_panics_with_a_clear_message() {
    let rt = Runtime::new().unwrap();
    let result = rt.block_on(async {
        let inner = Runtime::new().unwrap();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.block_on(async {})))
    });
    let message = corio::task::panic_message(&*result.unwrap_err()).to_owned();
    assert!(message.contains("inside a running loop"), "{message}");
    assert!(message.contains(".await"), "{message}");
}

#[test]
fn spawn_outside_a_loop_says_what_to_do() {
    let err = std::panic::catch_unwind(|| {
        drop(corio::spawn(async {}));
    })
    .unwrap_err();
    let message = corio::task::panic_message(&*err);
    assert!(message.contains("corio::run"), "{message}");
    assert!(message.contains("#[corio::main]"), "{message}");
}

#[test]
fn sleep_polled_outside_a_loop_says_what_to_do() {
    let err = std::panic::catch_unwind(|| {
        futures::executor::block_on(corio::sleep(Duration::from_millis(1)))
    })
    .unwrap_err();
    let message = corio::task::panic_message(&*err);
    assert!(message.contains("outside a running loop"), "{message}");
    assert!(message.contains("corio::run"), "{message}");
}

#[test]
fn sleep_created_before_the_loop_starts_counts_from_first_poll() {
    let rt = paused();
    let before = rt.now();
    rt.block_on(corio::sleep(Duration::from_secs(5)));
    assert_eq!(rt.now() - before, Duration::from_secs(5));
}

#[test]
fn idle_loop_sleeps_in_the_kernel() {
    fn thread_cpu() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        assert_eq!(
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) },
            0
        );
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
    let rt = Runtime::new().unwrap();
    let cpu_before = thread_cpu();
    rt.block_on(corio::sleep(Duration::from_millis(300)));
    let cpu = thread_cpu() - cpu_before;
    // A busy loop would burn ~300 ms; sleeping in epoll_wait costs ~nothing.
    assert!(
        cpu < Duration::from_millis(60),
        "idle loop used {cpu:?} of CPU in 300 ms"
    );
}

#[test]
fn runtime_advance_moves_a_paused_clock() {
    let rt = paused();
    let t0 = rt.now();
    rt.advance(Duration::from_secs(10));
    assert_eq!(rt.now() - t0, Duration::from_secs(10));
}

#[test]
fn debug_mode_reports_slow_steps_with_task_name_and_location() {
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = reports.clone();
    let rt = Runtime::builder()
        .debug(true)
        .slow_callback_duration(Duration::from_millis(100))
        .on_slow_callback(move |slow| sink.lock().unwrap().push(slow.to_string()))
        .build()
        .unwrap();
    rt.block_on(async {
        let t = corio::spawn_named("blocker", async {
            std::thread::sleep(Duration::from_millis(300)); // blocks the loop on purpose
        });
        let quick = corio::spawn_named("quick", async {});
        t.await.unwrap();
        quick.await.unwrap();
    });
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("'blocker'"), "{}", reports[0]);
    assert!(reports[0].contains("tests/runtime.rs"), "{}", reports[0]);
}

#[test]
fn all_tasks_lists_live_tasks_with_names_and_states() {
    corio::run(async {
        let a = corio::spawn_named("sleeper", corio::sleep(Duration::from_secs(60)));
        let b = corio::spawn(async {});
        corio::yield_now().await;
        let tasks = corio::all_tasks();
        assert_eq!(tasks.len(), 1, "the finished task is gone: {tasks:?}");
        assert_eq!(tasks[0].name.as_deref(), Some("sleeper"));
        assert_eq!(tasks[0].state, corio::TaskState::Waiting);
        assert!(tasks[0].location.file().ends_with("runtime.rs"));
        assert_eq!(tasks[0].id, a.id());
        assert!(b.is_done());
        a.cancel();
    });
}

#[test]
fn corio_debug_env_turns_on_debug_mode() {
    // Run this test binary again as a child with CORIO_DEBUG=1: the child
    // blocks its loop for 300 ms, and the warning must reach its stderr.
    if std::env::var_os("CORIO_TEST_DEBUG_CHILD").is_some() {
        corio::run(async {
            corio::spawn_named("env-blocker", async {
                std::thread::sleep(Duration::from_millis(300))
            })
            .await
            .unwrap();
        });
        return;
    }
    let out = common::rerun_alone(
        "corio_debug_env_turns_on_debug_mode",
        &[("CORIO_TEST_DEBUG_CHILD", "1"), ("CORIO_DEBUG", "1")],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("corio warning") && stderr.contains("'env-blocker'"),
        "{stderr}"
    );
}

#[test]
fn panic_reports_carry_the_panic_message() {
    // Defect: an unawaited task's panic and a panicking callback printed
    // `<non-string panic payload>` instead of the message. The child prints
    // the reports on its stderr (the default exception handler).
    if std::env::var_os("CORIO_TEST_PANIC_CHILD").is_some() {
        std::panic::set_hook(Box::new(|_| {})); // only corio's own reports
        corio::run(async {
            drop(corio::spawn(async {
                panic!("task boom {}", 42);
            }));
            corio::call_soon(|| panic!("callback boom"));
            corio::sleep(Duration::from_millis(10)).await;
        });
        return;
    }
    let out = common::rerun_alone(
        "panic_reports_carry_the_panic_message",
        &[("CORIO_TEST_PANIC_CHILD", "1")],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("task boom 42"), "{stderr}");
    assert!(stderr.contains("callback boom"), "{stderr}");
    assert!(!stderr.contains("non-string"), "{stderr}");
}

/// The `block_on` future's waker (the loop id, no reference count) wakes
/// the blocked loop from another thread, compares equal to its clones, and
/// does nothing once its loop is gone.
#[test]
fn the_main_futures_waker_wakes_from_other_threads_and_outlives_its_loop() {
    use std::future::poll_fn;
    use std::task::{Poll, Waker};
    use std::time::Instant;
    let rt = Runtime::new().unwrap();
    let mut kept: Option<Waker> = None;
    let started = Instant::now();
    let polls = rt.block_on(async {
        let mut polls = 0;
        poll_fn(|cx| {
            polls += 1;
            if polls == 3 {
                return Poll::Ready(());
            }
            let waker = cx.waker().clone();
            assert!(waker.will_wake(cx.waker()));
            kept = Some(waker.clone());
            // Woken once from another thread while the loop sleeps in its
            // wait; a lost wake would leave only the backstop, 5 s later.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                waker.wake_by_ref();
                std::thread::sleep(Duration::from_secs(5));
                waker.wake();
            });
            Poll::Pending
        })
        .await;
        polls
    });
    assert_eq!(polls, 3);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "a wake from another thread was lost"
    );
    let waker = kept.take().expect("kept a clone");
    waker.wake_by_ref(); // its loop is idle: a stale wake, harmless
    assert_eq!(rt.block_on(async { 7 }), 7);
    drop(rt);
    waker.wake(); // its loop is gone: nothing happens
}
