//! Queues: ordering, bounds, task_done/join, shutdown, cancellation safety.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use corio::queue::{
    GetShutDown, LifoQueue, PriorityQueue, PutShutDown, Queue, TaskDoneTooOften, TryGetError,
    TryPutError,
};
use corio::{spawn, timeout, yield_now};

const MS: Duration = Duration::from_millis(1);

mod common;
use common::{must_finish, settle};

#[corio::test]
async fn fifo_lifo_and_priority_orders() {
    let fifo = Queue::new(0);
    let lifo = LifoQueue::new(0);
    let prio = PriorityQueue::new(0);
    for n in [3, 1, 2] {
        fifo.put_nowait(n).unwrap();
        lifo.put_nowait(n).unwrap();
        prio.put_nowait((n, format!("job {n}"))).unwrap();
    }
    let take =
        |f: &dyn Fn() -> Result<i32, TryGetError>| (0..3).map(|_| f().unwrap()).collect::<Vec<_>>();
    assert_eq!(take(&|| fifo.get_nowait()), vec![3, 1, 2]);
    assert_eq!(take(&|| lifo.get_nowait()), vec![2, 1, 3]);
    assert_eq!(
        take(&|| prio.get_nowait().map(|(p, _)| p)),
        vec![1, 2, 3],
        "smallest first, as heapq"
    );
}

#[corio::test]
async fn nowait_errors() {
    let q = Queue::new(1);
    assert_eq!(q.get_nowait(), Err(TryGetError::Empty));
    q.put_nowait("a").unwrap();
    assert!(q.full());
    match q.put_nowait("b") {
        Err(TryPutError::Full(item)) => assert_eq!(item, "b", "the item comes back"),
        other => panic!("{other:?}"),
    }
    assert_eq!(q.qsize(), 1);
    assert_eq!(q.maxsize(), 1);
}

#[corio::test]
async fn bounded_put_waits_for_room() {
    let q = Rc::new(Queue::new(2));
    q.put(1).await.unwrap();
    q.put(2).await.unwrap();
    let q2 = q.clone();
    let producer = spawn(async move { q2.put(3).await.unwrap() });
    settle().await;
    assert!(!producer.is_done(), "blocked while full");
    assert_eq!(q.get().await.unwrap(), 1);
    producer.await.unwrap();
    assert_eq!((q.get().await.unwrap(), q.get().await.unwrap()), (2, 3));
}

#[corio::test(paused)]
async fn getters_are_served_in_arrival_order() {
    let q = Rc::new(Queue::new(0));
    let got = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let (q, got) = (q.clone(), got.clone());
            spawn(async move {
                let item: i32 = q.get().await.unwrap();
                got.borrow_mut().push((i, item));
            })
        })
        .collect();
    settle().await;
    for n in 10..14 {
        q.put_nowait(n).unwrap();
    }
    for t in tasks {
        must_finish(t).await.unwrap();
    }
    assert_eq!(*got.borrow(), vec![(0, 10), (1, 11), (2, 12), (3, 13)]);
}

#[corio::test(paused)]
async fn a_cancelled_get_loses_no_item() {
    let q = Rc::new(Queue::new(0));
    let (q1, q2) = (q.clone(), q.clone());
    let first = spawn(async move { q1.get().await.unwrap() });
    let second = spawn(async move { q2.get().await.unwrap() });
    settle().await;
    q.put_nowait("precious").unwrap(); // wakes `first`
    first.cancel(); // cancelled before it takes the item
    assert!(first.await.unwrap_err().is_cancelled());
    assert_eq!(
        must_finish(second).await.unwrap(),
        "precious",
        "the wake-up passed to the next getter"
    );
}

#[corio::test(paused)]
async fn a_get_cancelled_by_timeout_then_put_keeps_the_item() {
    let q = Queue::new(0);
    assert!(timeout(MS * 5, q.get()).await.is_err());
    q.put_nowait(7).unwrap();
    assert_eq!(q.get_nowait(), Ok(7));
}

#[corio::test(paused)]
async fn a_cancelled_put_never_inserts_and_passes_its_turn() {
    let q = Rc::new(Queue::new(1));
    q.put_nowait(0).unwrap();
    let (q1, q2) = (q.clone(), q.clone());
    let first = spawn(async move { q1.put(1).await.unwrap() });
    let second = spawn(async move { q2.put(2).await.unwrap() });
    settle().await;
    assert_eq!(q.get_nowait(), Ok(0)); // room for one: wakes `first`
    first.cancel();
    let _ = must_finish(first).await;
    must_finish(second).await.unwrap();
    assert_eq!(q.get_nowait(), Ok(2));
    assert_eq!(
        q.get_nowait(),
        Err(TryGetError::Empty),
        "the cancelled put inserted nothing"
    );
}

#[corio::test]
async fn task_done_and_join() {
    let q = Rc::new(Queue::new(0));
    assert_eq!(q.task_done(), Err(TaskDoneTooOften));
    q.join().await; // nothing unfinished: returns at once
    for n in 0..3 {
        q.put_nowait(n).unwrap();
    }
    let q2 = q.clone();
    let joiner = spawn(async move { q2.join().await });
    settle().await;
    for _ in 0..3 {
        q.get_nowait().unwrap();
        settle().await;
        assert!(!joiner.is_done(), "join waits for task_done, not just get");
        q.task_done().unwrap();
    }
    joiner.await.unwrap();
    assert_eq!(q.task_done(), Err(TaskDoneTooOften));
}

#[corio::test]
async fn shutdown_drains_then_fails() {
    let q = Rc::new(Queue::new(0));
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    q.shutdown(false);
    assert!(q.is_shut_down());
    assert_eq!(q.put(3).await, Err(PutShutDown(3)));
    assert!(matches!(q.put_nowait(3), Err(TryPutError::ShutDown(3))));
    assert_eq!(q.get().await, Ok(1));
    assert_eq!(q.get().await, Ok(2));
    assert_eq!(q.get().await, Err(GetShutDown));
    assert_eq!(q.get_nowait(), Err(TryGetError::ShutDown));
}

#[corio::test]
async fn shutdown_wakes_blocked_getters_and_putters() {
    let empty = Rc::new(Queue::<u8>::new(1));
    let full = Rc::new(Queue::new(1));
    full.put_nowait(0u8).unwrap();
    let e = empty.clone();
    let getter = spawn(async move { e.get().await });
    let f = full.clone();
    let putter = spawn(async move { f.put(1).await });
    settle().await;
    empty.shutdown(false);
    full.shutdown(false);
    assert_eq!(getter.await.unwrap(), Err(GetShutDown));
    assert_eq!(putter.await.unwrap(), Err(PutShutDown(1)));
}

#[corio::test]
async fn immediate_shutdown_drops_items_and_releases_join() {
    let q = Rc::new(Queue::new(0));
    for n in 0..5 {
        q.put_nowait(n).unwrap();
    }
    let q2 = q.clone();
    let joiner = spawn(async move { q2.join().await });
    settle().await;
    q.shutdown(true);
    joiner.await.unwrap();
    assert!(q.empty());
    assert_eq!(q.get().await, Err(GetShutDown));
}

#[corio::test(paused)]
async fn many_producers_and_consumers_through_a_bounded_queue() {
    const PRODUCERS: u64 = 10;
    const ITEMS: u64 = 1000;
    let q = Rc::new(Queue::new(8));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let q = q.clone();
            spawn(async move {
                for i in 0..ITEMS {
                    q.put(p * ITEMS + i).await.unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..7)
        .map(|_| {
            let q = q.clone();
            spawn(async move {
                let mut seen = Vec::new();
                while let Ok(item) = q.get().await {
                    seen.push(item);
                    q.task_done().unwrap();
                    if item % 3 == 0 {
                        yield_now().await;
                    }
                }
                seen
            })
        })
        .collect();
    for p in producers {
        must_finish(p).await.unwrap();
    }
    must_finish(q.join()).await;
    q.shutdown(false);
    let mut all: Vec<u64> = Vec::new();
    for c in consumers {
        let seen = must_finish(c).await.unwrap();
        // Per producer, items arrive in the order they were put.
        for p in 0..PRODUCERS {
            let mine: Vec<_> = seen.iter().filter(|&&x| x / ITEMS == p).collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]));
        }
        all.extend(seen);
    }
    all.sort();
    assert_eq!(
        all,
        (0..PRODUCERS * ITEMS).collect::<Vec<_>>(),
        "every item exactly once"
    );
}
