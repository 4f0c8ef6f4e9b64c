//! asyncio's combinators: gather, wait, as_completed, shield, TaskGroup, select.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use corio::time::now;
use corio::{
    as_completed, gather, gather_all, race, select, shield, sleep, spawn, timeout, try_gather,
    wait, Either, GroupError, ReturnWhen, TaskGroup,
};
use futures::StreamExt;

const MS: Duration = Duration::from_millis(1);

async fn after<T>(ms: u32, value: T) -> T {
    sleep(MS * ms).await;
    value
}

#[corio::test(paused)]
async fn gather_macro_runs_concurrently_with_typed_results_in_order() {
    let start = now();
    let (a, b, c) = gather!(after(30, 1u8), after(10, "b"), after(20, 3.5f64));
    assert_eq!((a, b, c), (1, "b", 3.5));
    assert_eq!(
        now() - start,
        MS * 30,
        "concurrent: the longest, not the sum"
    );
}

#[corio::test(paused)]
async fn gather_all_keeps_input_order() {
    let start = now();
    let out = gather_all([50, 10, 40, 20, 30].map(|ms| after(ms, ms))).await;
    assert_eq!(out, vec![50, 10, 40, 20, 30]);
    assert_eq!(now() - start, MS * 50);
    assert!(gather_all(Vec::<std::future::Ready<()>>::new())
        .await
        .is_empty());
}

#[corio::test(paused)]
async fn gather_all_of_many_tasks() {
    let tasks: Vec<_> = (0..1000u32).map(|i| spawn(after(i % 17, i))).collect();
    let out: Vec<u32> = gather_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, (0..1000).collect::<Vec<_>>());
}

#[corio::test(paused)]
async fn try_gather_returns_the_first_error_and_drops_the_rest() {
    let finished = Rc::new(Cell::new(0));
    let make = |ms: u32, ok: bool| {
        let finished = finished.clone();
        async move {
            sleep(MS * ms).await;
            finished.set(finished.get() + 1);
            if ok {
                Ok(ms)
            } else {
                Err(format!("failed at {ms}"))
            }
        }
    };
    let start = now();
    let result = try_gather([make(30, true), make(10, false), make(50, true)]).await;
    assert_eq!(result, Err("failed at 10".to_owned()));
    assert_eq!(now() - start, MS * 10, "returns at the first error");
    sleep(MS * 100).await;
    assert_eq!(
        finished.get(),
        1,
        "the others were dropped, not left running"
    );
    let ok: Result<Vec<u32>, String> = try_gather([make(2, true), make(1, true)]).await;
    assert_eq!(ok, Ok(vec![2, 1]));
}

#[corio::test(paused)]
async fn wait_first_completed_returns_done_and_pending() {
    let tasks = vec![
        spawn(after(30, 'a')),
        spawn(after(10, 'b')),
        spawn(after(20, 'c')),
    ];
    let (done, pending) = wait(tasks, ReturnWhen::FirstCompleted, None).await;
    assert_eq!(done.len(), 1);
    assert_eq!(pending.len(), 2);
    let mut done = done;
    assert_eq!(done.pop().unwrap().await.unwrap(), 'b');
    let (done, pending) = wait(pending, ReturnWhen::AllCompleted, None).await;
    assert_eq!((done.len(), pending.len()), (2, 0));
}

#[corio::test(paused)]
async fn wait_with_timeout_does_not_cancel() {
    let start = now();
    let tasks = vec![spawn(after(10, 1)), spawn(after(100, 2))];
    let (done, pending) = wait(tasks, ReturnWhen::AllCompleted, Some(MS * 50)).await;
    assert_eq!(now() - start, MS * 50);
    assert_eq!((done.len(), pending.len()), (1, 1));
    let late = pending.into_iter().next().unwrap();
    assert_eq!(late.await.unwrap(), 2, "still running after the timeout");
}

#[corio::test(paused)]
async fn wait_first_exception_stops_at_a_panic() {
    let tasks = vec![
        spawn(after(100, ())),
        spawn(async {
            sleep(MS * 10).await;
            panic!("expected in this test")
        }),
    ];
    let start = now();
    let (done, pending) = wait(tasks, ReturnWhen::FirstException, None).await;
    assert_eq!(now() - start, MS * 10);
    assert_eq!((done.len(), pending.len()), (1, 1));
}

#[corio::test(paused)]
async fn as_completed_yields_in_completion_order() {
    let mut stream = as_completed([30, 10, 20].map(|ms| after(ms, ms)));
    assert_eq!(stream.remaining(), 3);
    let mut order = Vec::new();
    while let Some(ms) = stream.next().await {
        order.push((ms, now()));
    }
    assert_eq!(
        order.iter().map(|(ms, _)| *ms).collect::<Vec<_>>(),
        vec![10, 20, 30]
    );
    assert!(
        order.windows(2).all(|w| w[0].1 < w[1].1),
        "each arrives as it finishes"
    );
}

#[corio::test(paused)]
async fn as_completed_over_tasks() {
    let tasks: Vec<_> = [3u32, 1, 2]
        .into_iter()
        .map(|ms| spawn(after(ms, ms)))
        .collect();
    let order: Vec<u32> = as_completed(tasks).map(|r| r.unwrap()).collect().await;
    assert_eq!(order, vec![1, 2, 3]);
}

#[corio::test(paused)]
async fn shield_keeps_the_inner_work_running_when_the_awaiter_is_cancelled() {
    let saved = Rc::new(Cell::new(false));
    let s = saved.clone();
    let outer = timeout(
        MS * 10,
        shield(async move {
            sleep(MS * 50).await;
            s.set(true);
        }),
    )
    .await;
    assert!(outer.is_err());
    assert!(!saved.get());
    sleep(MS * 100).await;
    assert!(
        saved.get(),
        "the shielded work finished after its awaiter gave up"
    );

    // Without shield, the same timeout drops (cancels) the work.
    let unshielded = Rc::new(Cell::new(false));
    let u = unshielded.clone();
    let _ = timeout(MS * 10, async move {
        sleep(MS * 50).await;
        u.set(true);
    })
    .await;
    sleep(MS * 100).await;
    assert!(!unshielded.get());
}

#[corio::test(paused)]
async fn shield_from_a_cancelled_task() {
    let saved = Rc::new(Cell::new(false));
    let s = saved.clone();
    let outer = spawn(async move {
        shield(async move {
            sleep(MS * 50).await;
            s.set(true);
        })
        .await
    });
    sleep(MS * 5).await;
    outer.cancel();
    assert!(outer.await.unwrap_err().is_cancelled());
    sleep(MS * 100).await;
    assert!(saved.get());
}

#[corio::test(paused)]
async fn task_group_waits_for_all_children() {
    let group = TaskGroup::<()>::new();
    let a = group.spawn(async { Ok(after(30, 1).await) });
    let b = group.spawn(async { Ok(after(10, 2).await) });
    assert_eq!(group.len(), 2);
    let start = now();
    group.join().await.unwrap();
    assert_eq!(now() - start, MS * 30);
    assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
}

#[corio::test(paused)]
async fn task_group_first_failure_cancels_siblings_and_is_returned() {
    let log = Rc::new(RefCell::new(Vec::new()));
    struct Guard(Rc<RefCell<Vec<&'static str>>>, &'static str);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.borrow_mut().push(self.1);
        }
    }
    let group = TaskGroup::new();
    let g = Guard(log.clone(), "slow sibling dropped");
    let slow = group.spawn(async move {
        let _g = g;
        sleep(Duration::from_secs(60)).await;
        Ok(1)
    });
    group
        .spawn(async { Err::<(), _>(after(10, "first").await) })
        .detach();
    group
        .spawn(async { Err::<(), _>(after(20, "second").await) })
        .detach();
    let start = now();
    let result = group.join().await;
    assert!(
        matches!(result, Err(GroupError::Failed("first"))),
        "{result:?}"
    );
    assert_eq!(
        now() - start,
        MS * 10,
        "siblings were cancelled, not awaited"
    );
    assert_eq!(*log.borrow(), vec!["slow sibling dropped"]);
    assert!(slow.await.unwrap_err().is_cancelled());
}

#[corio::test(paused)]
async fn task_group_reports_a_panicking_child() {
    let group = TaskGroup::<()>::new();
    let other = group.spawn(async {
        sleep(MS * 1000).await;
        Ok(())
    });
    group
        .spawn(async {
            sleep(MS).await;
            panic!("child panic (expected in this test)");
            #[allow(unreachable_code)]
            Ok(())
        })
        .detach();
    match group.join().await {
        Err(GroupError::Panicked(p)) => {
            assert_eq!(
                corio::task::panic_message(&*p),
                "child panic (expected in this test)"
            )
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert!(other.is_cancelled());
}

#[corio::test(paused)]
async fn dropping_a_task_group_cancels_its_children() {
    let finished = Rc::new(Cell::new(false));
    let f = finished.clone();
    let group = TaskGroup::<()>::new();
    let child = group.spawn(async move {
        sleep(MS * 10).await;
        f.set(true);
        Ok(())
    });
    drop(group);
    assert!(child.await.unwrap_err().is_cancelled());
    assert!(!finished.get());
}

#[corio::test(paused)]
async fn cancelling_the_join_cancels_the_children() {
    let group = TaskGroup::<()>::new();
    let child = group.spawn(async {
        sleep(MS * 1000).await;
        Ok(())
    });
    assert!(timeout(MS * 10, group.join()).await.is_err());
    assert!(child.await.unwrap_err().is_cancelled());
}

#[corio::test(paused)]
async fn select_and_race_take_the_first() {
    assert_eq!(select(after(20, 'a'), after(10, 2)).await, Either::Right(2));
    assert_eq!(select(after(5, 'a'), after(10, 2)).await, Either::Left('a'));
    assert_eq!(race(after(20, "slow"), after(10, "fast")).await, "fast");
}
