//! Synchronization primitives: fairness, cancellation safety, misuse errors.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use corio::sync::{
    Barrier, BoundedSemaphore, BrokenBarrier, Condition, Event, Lock, Mutex, NotLocked, Semaphore,
};
use corio::{spawn, timeout, yield_now};

const MS: Duration = Duration::from_millis(1);

mod common;
use common::{must_finish, settle};

#[corio::test(paused)]
async fn lock_waiters_acquire_in_arrival_order() {
    let lock = Rc::new(Mutex::new(Vec::new()));
    let guard = lock.lock().await;
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let lock = lock.clone();
            spawn(async move { lock.lock().await.push(i) })
        })
        .collect();
    settle().await;
    drop(guard);
    for t in tasks {
        must_finish(t).await.unwrap();
    }
    assert_eq!(*lock.lock().await, vec![0, 1, 2, 3, 4]);
}

#[corio::test]
async fn a_newcomer_cannot_overtake_waiters() {
    let lock = Rc::new(Mutex::new(()));
    let guard = lock.lock().await;
    let l = lock.clone();
    let waiter = spawn(async move { drop(l.lock().await) });
    settle().await;
    drop(guard); // handed straight to the waiter
    assert!(
        lock.try_lock().is_none(),
        "the lock went to the waiter, not to us"
    );
    waiter.await.unwrap();
    assert!(lock.try_lock().is_some());
}

#[corio::test(paused)]
async fn lock_handed_to_a_cancelled_waiter_passes_on() {
    let lock = Rc::new(Mutex::new(0));
    let guard = lock.lock().await;
    let (l1, l2) = (lock.clone(), lock.clone());
    let first = spawn(async move { *l1.lock().await += 1 });
    let second = spawn(async move { *l2.lock().await += 10 });
    settle().await;
    drop(guard); // the lock is now handed to `first`, which has not run yet
    first.cancel(); // ...and `first` is cancelled before it can use it
    assert!(first.await.unwrap_err().is_cancelled());
    must_finish(second).await.unwrap();
    assert_eq!(
        *lock.lock().await,
        10,
        "second got the lock; nothing is stuck"
    );
    assert!(!lock.is_locked());
}

#[corio::test(paused)]
async fn lock_waiter_cancelled_by_timeout_leaves_the_line() {
    let lock = Mutex::new(());
    let guard = lock.lock().await;
    assert!(timeout(MS * 10, lock.lock()).await.is_err());
    drop(guard);
    assert!(
        lock.try_lock().is_some(),
        "no phantom waiter holds the lock"
    );
}

#[corio::test]
async fn plain_lock_with_explicit_release() {
    let lock = Lock::new();
    assert_eq!(lock.release(), Err(NotLocked));
    lock.acquire().await.forget();
    assert!(lock.locked());
    assert!(lock.try_acquire().is_none());
    lock.release().unwrap();
    assert!(!lock.locked());
    let guard = lock.acquire().await;
    assert_eq!(
        lock.release(),
        Err(NotLocked),
        "a live guard's lock is released by the guard"
    );
    drop(guard);
    assert!(!lock.locked());
}

#[corio::test]
async fn semaphore_limits_concurrency() {
    let sem = Rc::new(Semaphore::new(3));
    let running = Rc::new(RefCell::new((0, 0))); // (now, max)
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (sem, running) = (sem.clone(), running.clone());
            spawn(async move {
                let _permit = sem.acquire().await;
                {
                    let mut r = running.borrow_mut();
                    r.0 += 1;
                    r.1 = r.1.max(r.0);
                }
                yield_now().await;
                running.borrow_mut().0 -= 1;
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(running.borrow().1, 3);
    assert_eq!(sem.available_permits(), 3);
}

#[corio::test(paused)]
async fn semaphore_permit_handed_to_a_cancelled_waiter_is_not_lost() {
    let sem = Rc::new(Semaphore::new(1));
    let permit = sem.acquire().await;
    let order = Rc::new(RefCell::new(Vec::new()));
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let (sem, order) = (sem.clone(), order.clone());
            spawn(async move {
                let _p = sem.acquire().await;
                order.borrow_mut().push(i);
            })
        })
        .collect();
    settle().await;
    assert_eq!(sem.waiting(), 3);
    drop(permit); // handed to waiter 0
    waiters[0].cancel(); // which is cancelled before it runs
    for w in waiters {
        let _ = must_finish(w).await;
    }
    assert_eq!(*order.borrow(), vec![1, 2]);
    assert_eq!(sem.available_permits(), 1, "the permit came back");
}

#[corio::test]
async fn a_failed_try_acquire_takes_and_gives_nothing() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    for _ in 0..3 {
        assert!(sem.try_acquire().is_none());
    }
    assert_eq!(
        sem.available_permits(),
        0,
        "failed attempts released nothing"
    );
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}

#[corio::test]
async fn semaphore_forget_and_release() {
    let sem = Semaphore::new(1);
    sem.acquire().await.forget();
    assert!(sem.locked());
    sem.release();
    assert_eq!(sem.available_permits(), 1);
    sem.release(); // a plain Semaphore may grow
    assert_eq!(sem.available_permits(), 2);
}

#[corio::test]
async fn bounded_semaphore_refuses_extra_releases() {
    let sem = BoundedSemaphore::new(2);
    assert!(sem.release().is_err());
    let a = sem.acquire().await;
    sem.try_acquire().unwrap().forget();
    assert!(sem.try_acquire().is_none());
    sem.release().unwrap();
    drop(a);
    assert_eq!(sem.available_permits(), 2);
    assert!(sem.release().is_err());
}

#[corio::test]
async fn event_set_wakes_every_waiter() {
    let event = Rc::new(Event::new());
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let e = event.clone();
            spawn(async move {
                e.wait().await;
                i
            })
        })
        .collect();
    settle().await;
    assert!(tasks.iter().all(|t| !t.is_done()));
    event.set();
    event.clear(); // waiters woken by set still return
    let out: Vec<i32> = corio::gather_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, vec![0, 1, 2, 3, 4]);
    assert!(!event.is_set());
    event.set();
    event.wait().await; // already set: returns at once
}

#[corio::test(paused)]
async fn event_wait_cancelled_then_set_is_harmless() {
    let event = Event::new();
    assert!(timeout(MS, event.wait()).await.is_err());
    event.set();
    assert!(timeout(MS, event.wait()).await.is_ok());
}

#[corio::test(paused)]
async fn condition_notify_wakes_in_order() {
    let cond = Rc::new(Condition::new(Vec::new()));
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            let c = cond.clone();
            spawn(async move {
                let guard = c.lock().await;
                let mut guard = c.wait(guard).await;
                guard.push(i);
            })
        })
        .collect();
    settle().await;
    assert_eq!(cond.waiting(), 3);
    cond.notify(1);
    settle().await;
    assert_eq!(*cond.lock().await, vec![0]);
    cond.notify(2);
    for t in tasks {
        must_finish(t).await.unwrap();
    }
    assert_eq!(*cond.lock().await, vec![0, 1, 2]);
}

#[corio::test(paused)]
async fn condition_notification_of_a_cancelled_waiter_passes_on() {
    let cond = Rc::new(Condition::new(0));
    let (c1, c2) = (cond.clone(), cond.clone());
    let first = spawn(async move {
        let g = c1.lock().await;
        drop(c1.wait(g).await);
    });
    let second = spawn(async move {
        let g = c2.lock().await;
        *c2.wait(g).await += 1;
    });
    settle().await;
    cond.notify(1); // meant for `first`...
    first.cancel(); // ...which is cancelled before it returns
    let _ = must_finish(first).await;
    must_finish(second).await.unwrap(); // the notification reached `second`
    assert_eq!(*cond.lock().await, 1);
}

#[corio::test]
async fn condition_wait_for_predicate() {
    let cond = Rc::new(Condition::new(0));
    let c = cond.clone();
    let waiter = spawn(async move {
        let g = c.lock().await;
        *c.wait_for(g, |n| *n >= 3).await
    });
    for _ in 0..5 {
        settle().await;
        *cond.lock().await += 1;
        cond.notify_all();
    }
    assert!(waiter.await.unwrap() >= 3);
}

#[corio::test]
#[should_panic(expected = "another mutex")]
async fn condition_wait_with_a_foreign_guard_panics() {
    let cond = Condition::new(());
    let other = Mutex::new(());
    let guard = other.lock().await;
    drop(cond.wait(guard));
}

#[corio::test]
async fn barrier_releases_all_with_distinct_indices_and_is_reusable() {
    let barrier = Rc::new(Barrier::new(3));
    for _round in 0..2 {
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let b = barrier.clone();
                spawn(async move { b.wait().await.unwrap() })
            })
            .collect();
        let mut indices: Vec<usize> = corio::gather_all(tasks)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        indices.sort();
        assert_eq!(indices, vec![0, 1, 2]);
    }
}

#[corio::test]
async fn barrier_abort_and_reset() {
    let barrier = Rc::new(Barrier::new(3));
    let b = barrier.clone();
    let waiter = spawn(async move { b.wait().await });
    settle().await;
    assert_eq!(barrier.n_waiting(), 1);
    barrier.abort();
    assert_eq!(waiter.await.unwrap(), Err(BrokenBarrier));
    assert_eq!(barrier.wait().await, Err(BrokenBarrier));
    barrier.reset();
    assert!(!barrier.is_broken());
    let b = barrier.clone();
    let waiter = spawn(async move { b.wait().await });
    settle().await;
    barrier.reset();
    assert_eq!(waiter.await.unwrap(), Err(BrokenBarrier));
    assert_eq!(barrier.n_waiting(), 0);
}

#[corio::test(paused)]
async fn barrier_waiter_cancelled_before_filling_takes_back_its_arrival() {
    let barrier = Rc::new(Barrier::new(2));
    assert!(timeout(MS, barrier.wait()).await.is_err());
    assert_eq!(barrier.n_waiting(), 0);
    let b = barrier.clone();
    let other = spawn(async move { b.wait().await });
    let mine = barrier.wait().await.unwrap();
    let theirs = other.await.unwrap().unwrap();
    assert_eq!(
        mine + theirs,
        1,
        "indices 0 and 1: the cancelled arrival did not count"
    );
}
