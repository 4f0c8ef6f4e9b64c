//! What tokio users reach for, on corio: `Notify`, `watch`, `broadcast`,
//! `oneshot`, `JoinSet`, and streams of an `Interval` and of a queue.

use std::cell::Cell;
use std::future::poll_fn;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use corio::sync::{broadcast, oneshot, watch, Notify};
use corio::task::JoinSet;
use corio::{spawn, yield_now, TaskError};
use futures_core::Stream;

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

#[corio::test]
async fn notify_one_wakes_in_order_and_stores_one_permit() {
    let notify = Rc::new(Notify::new());
    let order = Rc::new(std::cell::RefCell::new(Vec::new()));
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let (n, o) = (notify.clone(), order.clone());
            spawn(async move {
                n.notified().await;
                o.borrow_mut().push(i);
            })
        })
        .collect();
    yield_now().await;
    for _ in 0..3 {
        notify.notify_one();
        yield_now().await;
    }
    for w in waiters {
        w.await.unwrap();
    }
    assert_eq!(*order.borrow(), [0, 1, 2]);
    // No waiter: one permit is stored (two calls still store one).
    notify.notify_one();
    notify.notify_one();
    notify.notified().await;
    let second = corio::timeout(Duration::from_millis(50), notify.notified()).await;
    assert!(second.is_err(), "a second permit was stored");
}

#[corio::test]
async fn notify_waiters_wakes_everyone_waiting_and_stores_nothing() {
    let notify = Rc::new(Notify::new());
    let woken = Rc::new(Cell::new(0));
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let (n, w) = (notify.clone(), woken.clone());
            spawn(async move {
                n.notified().await;
                w.set(w.get() + 1);
            })
        })
        .collect();
    yield_now().await;
    notify.notify_waiters();
    for w in waiters {
        w.await.unwrap();
    }
    assert_eq!(woken.get(), 5);
    let later = corio::timeout(Duration::from_millis(50), notify.notified()).await;
    assert!(later.is_err(), "notify_waiters stored a permit");
}

#[corio::test]
async fn a_cancelled_waiter_chosen_by_notify_one_passes_it_on() {
    let notify = Rc::new(Notify::new());
    let n = notify.clone();
    let first = spawn(async move { n.notified().await });
    let n = notify.clone();
    let second = spawn(async move { n.notified().await });
    yield_now().await;
    notify.notify_one(); // chooses `first`...
    first.cancel(); // ...which never resumes
    assert!(matches!(first.await, Err(TaskError::Cancelled)));
    corio::timeout(Duration::from_secs(5), second)
        .await
        .expect("the notification was lost")
        .unwrap();
}

#[corio::test]
async fn watch_receivers_see_the_latest_value_and_the_close() {
    let (tx, mut rx) = watch::channel(0);
    let mut other = tx.subscribe();
    assert_eq!(*rx.borrow(), 0);
    assert!(!rx.has_changed().unwrap());
    let seen = spawn(async move {
        let mut values = Vec::new();
        while rx.changed().await.is_ok() {
            values.push(*rx.borrow_and_update());
        }
        values
    });
    yield_now().await;
    tx.send(1).unwrap();
    yield_now().await;
    tx.send_modify(|v| *v += 1);
    yield_now().await;
    // Several sends before a receiver looks: it sees the latest only.
    tx.send(3).unwrap();
    tx.send(4).unwrap();
    assert!(other.has_changed().unwrap());
    other.changed().await.unwrap();
    assert_eq!(*other.borrow_and_update(), 4);
    drop(tx);
    assert_eq!(seen.await.unwrap(), [1, 2, 4]);
    assert_eq!(other.changed().await, Err(watch::RecvError));
}

#[corio::test]
async fn watch_send_fails_without_receivers() {
    let (tx, rx) = watch::channel("a");
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send("b"), Err(watch::SendError("b")));
    assert_eq!(tx.send_replace("c"), "a");
}

#[corio::test]
async fn broadcast_delivers_every_value_to_every_receiver() {
    let (tx, mut a) = broadcast::channel(16);
    let mut b = tx.subscribe();
    let readers: Vec<_> = [a.resubscribe(), tx.subscribe()]
        .into_iter()
        .map(|mut rx| {
            spawn(async move {
                let mut got = Vec::new();
                while let Ok(v) = rx.recv().await {
                    got.push(v);
                }
                got
            })
        })
        .collect();
    for i in 0..10 {
        assert_eq!(tx.send(i).unwrap(), 4);
        yield_now().await;
    }
    for i in 0..10 {
        assert_eq!(a.recv().await, Ok(i));
        assert_eq!(b.recv().await, Ok(i));
    }
    drop(tx);
    assert_eq!(a.recv().await, Err(broadcast::RecvError::Closed));
    for r in readers {
        assert_eq!(r.await.unwrap(), (0..10).collect::<Vec<_>>());
    }
}

#[corio::test]
async fn a_slow_broadcast_receiver_is_told_how_much_it_missed() {
    let (tx, mut rx) = broadcast::channel(4);
    for i in 0..10 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.recv().await, Err(broadcast::RecvError::Lagged(6)));
    for i in 6..10 {
        assert_eq!(rx.recv().await, Ok(i));
    }
    assert_eq!(rx.try_recv(), Err(broadcast::TryRecvError::Empty));
    drop(rx);
    assert_eq!(tx.send(99), Err(broadcast::SendError(99)));
}

#[corio::test]
async fn oneshot_crosses_threads_both_ways() {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || tx.send(String::from("from a thread")).unwrap());
    assert_eq!(rx.await.unwrap(), "from a thread");
    // The other way: a thread that runs no loop blocks on the receiver.
    let (tx, rx) = oneshot::channel();
    let waiter = std::thread::spawn(move || rx.blocking_recv());
    corio::sleep(Duration::from_millis(10)).await;
    tx.send(7).unwrap();
    assert_eq!(waiter.join().unwrap(), Ok(7));
}

#[corio::test]
async fn oneshot_reports_a_dropped_peer() {
    let (tx, rx) = oneshot::channel::<u8>();
    drop(tx);
    assert_eq!(rx.await, Err(oneshot::RecvError));
    let (tx, rx) = oneshot::channel();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(5), Err(5));
}

#[corio::test(paused)]
async fn join_set_gives_results_in_finishing_order_with_panics_and_cancels() {
    let mut set = JoinSet::new();
    for ms in [30u64, 10, 20] {
        set.spawn(async move {
            corio::sleep(Duration::from_millis(ms)).await;
            ms
        });
    }
    set.spawn(async { panic!("boom") });
    let doomed = set.spawn(async {
        corio::sleep(Duration::from_secs(3600)).await;
        0
    });
    assert!(doomed.cancel());
    assert_eq!(set.len(), 5);
    let mut values = Vec::new();
    let (mut panics, mut cancels) = (0, 0);
    while let Some(result) = set.join_next().await {
        match result {
            Ok(ms) => values.push(ms),
            Err(TaskError::Panicked(_)) => panics += 1,
            Err(TaskError::Cancelled) => cancels += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(values, [10, 20, 30]);
    assert_eq!((panics, cancels), (1, 1));
    assert!(set.is_empty());
}

#[corio::test(paused)]
async fn dropping_a_join_set_cancels_its_tasks_and_detach_all_does_not() {
    let ran = Rc::new(Cell::new(0));
    let mut set = JoinSet::new();
    for _ in 0..3 {
        let ran = ran.clone();
        set.spawn(async move {
            corio::sleep(Duration::from_millis(10)).await;
            ran.set(ran.get() + 1);
        });
    }
    drop(set);
    corio::sleep(Duration::from_millis(50)).await;
    assert_eq!(ran.get(), 0);

    let mut set = JoinSet::new();
    for _ in 0..3 {
        let ran = ran.clone();
        set.spawn(async move {
            corio::sleep(Duration::from_millis(10)).await;
            ran.set(ran.get() + 1);
        });
    }
    set.detach_all();
    // Tasks spawned after detaching reuse the slots; the detached tasks'
    // reports must not be taken for theirs.
    let new_ran = Rc::new(Cell::new(false));
    let flag = new_ran.clone();
    set.spawn(async move {
        corio::sleep(Duration::from_millis(30)).await;
        flag.set(true);
    });
    corio::sleep(Duration::from_millis(5)).await;
    // The detached tasks finish first; joining must wait for the new one.
    set.join_next().await.unwrap().unwrap();
    assert!(new_ran.get(), "join_next returned before the new task ran");
    assert_eq!(ran.get(), 3);
    assert!(set.join_next().await.is_none());
}

#[corio::test(paused)]
async fn an_interval_and_a_queue_are_streams() {
    let start = corio::time::now();
    let mut ticks = corio::time::interval(Duration::from_millis(100));
    let mut at = Vec::new();
    for _ in 0..3 {
        at.push(next(&mut ticks).await.unwrap() - start);
    }
    assert_eq!(
        at,
        [0, 100, 200].map(Duration::from_millis),
        "ticks at the period"
    );

    let queue = Rc::new(corio::queue::Queue::new(2));
    let q = queue.clone();
    let producer = spawn(async move {
        for i in 0..5 {
            q.put(i).await.unwrap();
        }
        q.shutdown(false);
    });
    let mut items = pin!(queue.stream());
    let mut got = Vec::new();
    while let Some(i) = next(&mut items).await {
        got.push(i);
    }
    producer.await.unwrap();
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

#[test]
fn threadsafe_notify_and_watch_cross_threads_and_loops() {
    use corio::sync::threadsafe;
    use std::sync::Arc;

    let notify = Arc::new(threadsafe::Notify::new());
    let (tx, rx) = threadsafe::watch::channel(0u32);
    // Two loops on two threads wait on the same Notify and watch.
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let (notify, mut rx) = (notify.clone(), rx.clone());
            std::thread::spawn(move || {
                corio::run(async move {
                    notify.notified().await;
                    let mut seen = Vec::new();
                    while rx.changed().await.is_ok() {
                        seen.push(*rx.borrow_and_update());
                    }
                    seen
                })
            })
        })
        .collect();
    drop(rx);
    std::thread::sleep(Duration::from_millis(50));
    notify.notify_waiters();
    for i in 1..=100 {
        tx.send(i).unwrap();
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    drop(tx);
    for handle in loops {
        let seen = handle.join().unwrap();
        assert_eq!(seen.last(), Some(&100), "{seen:?}");
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "out of order: {seen:?}"
        );
    }
}

#[corio::test]
async fn a_threadsafe_notify_passes_on_a_wakeup_its_cancelled_waiter_got() {
    use corio::sync::threadsafe;
    use std::sync::Arc;

    let notify = Arc::new(threadsafe::Notify::new());
    let n = notify.clone();
    let first = spawn(async move { n.notified().await });
    let n = notify.clone();
    let second = spawn(async move { n.notified().await });
    yield_now().await;
    let n = notify.clone();
    std::thread::spawn(move || n.notify_one()).join().unwrap();
    first.cancel();
    let _ = first.await;
    corio::timeout(Duration::from_secs(5), second)
        .await
        .expect("the wake-up was lost")
        .unwrap();
}

#[test]
fn a_threadsafe_broadcast_reaches_loops_on_other_threads() {
    use corio::sync::threadsafe::broadcast;

    let (tx, rx) = broadcast::channel(256);
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let mut rx = rx.resubscribe();
            std::thread::spawn(move || {
                corio::run(async move {
                    let mut got = Vec::new();
                    while let Ok(v) = rx.recv().await {
                        got.push(v);
                    }
                    got
                })
            })
        })
        .collect();
    drop(rx);
    for i in 0..200u32 {
        assert_eq!(tx.send(i).unwrap(), 2);
    }
    drop(tx);
    for handle in loops {
        assert_eq!(handle.join().unwrap(), (0..200).collect::<Vec<_>>());
    }
}
