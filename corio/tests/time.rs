//! Time on the virtual clock: sleeps, timeouts, intervals.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use corio::time::{interval, now, MissedTickBehavior};
use corio::{sleep, sleep_until, spawn, timeout, timeout_at, wait_for, Elapsed};

const MS: Duration = Duration::from_millis(1);

#[corio::test(paused)]
async fn paused_clock_jumps_to_the_next_timer() {
    let start = now();
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(now() - start, Duration::from_secs(3600));
}

#[corio::test(paused)]
async fn sleeps_wake_in_deadline_order() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = [50u64, 10, 40, 20, 30]
        .into_iter()
        .map(|ms| {
            let log = log.clone();
            spawn(async move {
                sleep(MS * ms as u32).await;
                log.borrow_mut().push(ms);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*log.borrow(), vec![10, 20, 30, 40, 50]);
}

#[corio::test(paused)]
async fn sleep_until_and_reset() {
    let start = now();
    sleep_until(start + MS * 7).await;
    assert_eq!(now() - start, MS * 7);
    let mut s = sleep(MS * 100);
    s.reset(now() + MS * 3);
    (&mut s).await;
    assert_eq!(now() - start, MS * 10);
    assert!(s.is_elapsed());
}

#[corio::test(paused)]
async fn timeout_elapses_and_cancels_the_inner_future() {
    struct Guard(Rc<Cell<bool>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let g = Guard(dropped.clone());
    let start = now();
    let result = timeout(MS * 50, async move {
        let _g = g;
        sleep(Duration::from_secs(10)).await;
        "never"
    })
    .await;
    assert_eq!(result, Err(Elapsed));
    assert!(dropped.get(), "the inner future is dropped on timeout");
    assert_eq!(now() - start, MS * 50);
}

#[corio::test(paused)]
async fn timeout_passes_the_value_through_in_time() {
    assert_eq!(
        wait_for(MS * 50, async {
            sleep(MS * 10).await;
            3
        })
        .await,
        Ok(3)
    );
    assert_eq!(
        timeout(Duration::ZERO, async { 4 }).await,
        Ok(4),
        "a ready future wins even at zero"
    );
    let deadline = now() + MS * 5;
    assert_eq!(timeout_at(deadline, sleep(MS * 6)).await, Err(Elapsed));
}

#[corio::test(paused)]
async fn elapsed_converts_to_io_timed_out() {
    let e: std::io::Error = timeout(MS, sleep(MS * 2)).await.unwrap_err().into();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
}

#[corio::test(paused)]
async fn interval_ticks_at_the_period() {
    let start = now();
    let mut ticks = interval(MS * 10);
    let mut at = Vec::new();
    for _ in 0..4 {
        at.push(ticks.tick().await - start);
    }
    assert_eq!(at, vec![Duration::ZERO, MS * 10, MS * 20, MS * 30]);
}

/// Ticks after the task was busy for 35 ms past a 10 ms period.
async fn ticks_after_stall(behavior: MissedTickBehavior) -> Vec<Duration> {
    let start = now();
    let mut ticks = interval(MS * 10);
    ticks.set_missed_tick_behavior(behavior);
    ticks.tick().await; // t = 0
    sleep(MS * 35).await; // busy: misses the ticks at 10, 20, 30
    let mut at = Vec::new();
    for _ in 0..4 {
        ticks.tick().await;
        at.push(now() - start);
    }
    at
}

#[corio::test(paused)]
async fn interval_missed_ticks_burst() {
    assert_eq!(
        ticks_after_stall(MissedTickBehavior::Burst).await,
        vec![MS * 35, MS * 35, MS * 35, MS * 40]
    );
}

#[corio::test(paused)]
async fn interval_missed_ticks_delay() {
    assert_eq!(
        ticks_after_stall(MissedTickBehavior::Delay).await,
        vec![MS * 35, MS * 45, MS * 55, MS * 65]
    );
}

#[corio::test(paused)]
async fn interval_missed_ticks_skip() {
    assert_eq!(
        ticks_after_stall(MissedTickBehavior::Skip).await,
        vec![MS * 35, MS * 40, MS * 50, MS * 60]
    );
}

#[corio::test(paused)]
async fn many_timeouts_set_and_cancelled_leave_no_timers_behind() {
    for _ in 0..10_000 {
        assert_eq!(timeout(Duration::from_secs(60), async { 1 }).await, Ok(1));
    }
    // If cancelled timers lingered, the paused clock would jump to them.
    let start = now();
    sleep(MS).await;
    assert_eq!(now() - start, MS);
}

#[test]
fn real_clock_sleep_takes_at_least_its_duration() {
    let start = std::time::Instant::now();
    corio::run(sleep(MS * 30));
    assert!(start.elapsed() >= MS * 30);
}

/// On the real clock: a sleep's deadline is `duration` after it was made
/// (timers run on the loop's own nanosecond timeline, read once per
/// sleep), it is not elapsed before that, and it never wakes early by
/// `std::time::Instant`.
#[corio::test]
async fn a_real_sleep_reports_its_deadline_and_never_wakes_early() {
    use std::time::Instant;
    for ms in [0u32, 1, 3, 20] {
        let before = Instant::now();
        let s = sleep(MS * ms);
        let after = Instant::now();
        let deadline = s.deadline().expect("made on a loop: fixed at once");
        assert!(
            deadline + MS >= before + MS * ms && deadline <= after + MS * ms,
            "{ms} ms sleep: deadline {:?} after `before`",
            deadline - before
        );
        if ms >= 3 {
            assert!(!s.is_elapsed(), "{ms} ms sleep elapsed at once");
        }
        s.await;
        let woke = Instant::now();
        assert!(
            woke >= deadline && woke - before >= MS * ms,
            "{ms} ms sleep woke early"
        );
        // A timeout's deadline counts from its first poll, on the same timeline.
        let started = Instant::now();
        assert_eq!(timeout(MS * ms, sleep(MS * 1000)).await, Err(Elapsed));
        assert!(started.elapsed() >= MS * ms, "{ms} ms timeout fired early");
    }
}
