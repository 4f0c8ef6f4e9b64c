//! Reaching a loop from other threads: LoopHandle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::{LoopClosed, LoopHandle, Runtime, TaskError};

#[test]
fn call_soon_threadsafe_wakes_an_idle_loop_promptly() {
    let rt = Runtime::new().unwrap();
    let handle = rt.handle();
    let (tx, rx) = futures::channel::oneshot::channel::<Instant>();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        let sent = Instant::now();
        handle
            .call_soon_threadsafe(move || tx.send(sent).unwrap())
            .unwrap();
    });
    // The loop has nothing else to do: it sleeps in epoll_wait with no
    // timeout, so only the eventfd wake can bring the callback in.
    let sent = rt.block_on(rx).unwrap();
    // Wide margin: the point is "not stuck", not speed.
    assert!(sent.elapsed() < Duration::from_secs(5));
    sender.join().unwrap();
}

#[test]
fn many_threads_schedule_callbacks_none_lost() {
    let rt = Runtime::new().unwrap();
    let handle = rt.handle();
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let handle = handle.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    let count = count.clone();
                    handle
                        .call_soon_threadsafe(move || {
                            count.fetch_add(1, Ordering::Relaxed);
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    rt.block_on(async {
        while count.load(Ordering::Relaxed) < 4000 {
            corio::sleep(Duration::from_millis(1)).await;
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(count.load(Ordering::Relaxed), 4000);
}

#[test]
fn spawn_a_send_future_from_another_thread_and_join_it() {
    let rt = Runtime::new().unwrap();
    let handle = rt.handle();
    let worker = std::thread::spawn(move || {
        let task = handle
            .spawn(async {
                corio::sleep(Duration::from_millis(5)).await;
                assert!(corio::in_loop());
                21 * 2
            })
            .unwrap();
        let value = task.join().unwrap();
        handle.stop();
        value
    });
    rt.run_forever();
    assert_eq!(worker.join().unwrap(), 42);
}

#[test]
fn remote_task_panics_and_closed_loops_are_errors() {
    let rt = Runtime::new().unwrap();
    let handle = rt.handle();
    let t = std::thread::spawn({
        let handle = handle.clone();
        move || {
            let r = handle
                .spawn(async { panic!("remote boom (expected in this test)") })
                .unwrap()
                .join();
            handle.stop();
            r
        }
    });
    rt.run_forever();
    assert!(matches!(t.join().unwrap(), Err(TaskError::Panicked(_))));

    // A remote task still pending when the loop closes is cancelled.
    let pending = handle.spawn(std::future::pending::<()>()).unwrap();
    drop(rt);
    assert!(handle.is_closed());
    assert!(matches!(pending.join(), Err(TaskError::Cancelled)));
    assert_eq!(handle.call_soon_threadsafe(|| {}).unwrap_err(), LoopClosed);
    assert!(handle.spawn(async {}).is_err());
}

#[test]
fn loop_handle_current_inside_a_loop() {
    corio::run(async {
        let handle = LoopHandle::current();
        let (tx, rx) = futures::channel::oneshot::channel();
        std::thread::spawn(move || {
            handle
                .call_soon_threadsafe(move || tx.send(5).unwrap())
                .unwrap()
        });
        assert_eq!(rx.await.unwrap(), 5);
    });
}
