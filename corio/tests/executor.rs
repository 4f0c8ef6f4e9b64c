//! Thread pool and process pool, with real threads and real processes.
//!
//! `harness = false`: the process pool starts this binary again as its
//! workers, so `worker_main` must run before anything else in `main`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::executor::{
    default_max_workers, worker_main, Job, ProcessError, ProcessPool, ThreadPool,
};
use corio::TaskError;

fn square(n: u64) -> u64 {
    n * n
}
fn crash(_: ()) -> u64 {
    std::process::abort()
}
fn panics(message: String) -> u64 {
    panic!("{message}")
}
fn pid(_: ()) -> u32 {
    std::process::id()
}
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}
fn shout(s: String) -> String {
    println!("a job printing to stdout must not break the protocol");
    s.to_uppercase()
}

static SQUARE: Job<u64, u64> = Job::new("square", square);
static CRASH: Job<(), u64> = Job::new("crash", crash);
static PANICS: Job<String, u64> = Job::new("panics", panics);
static PID: Job<(), u32> = Job::new("pid", pid);
static SHOUT: Job<String, String> = Job::new("shout", shout);
static SLEEP_MS: Job<u64, u64> = Job::new("sleep_ms", sleep_ms);
/// Deliberately not passed to worker_main.
static UNREGISTERED: Job<u64, u64> = Job::new("unregistered", square);

const ORPHAN_ENV: &str = "CORIO_TEST_ORPHAN_PARENT";
const LONG_JOB_ENV: &str = "CORIO_TEST_LONG_JOB";

fn main() {
    worker_main(&[&SQUARE, &CRASH, &PANICS, &PID, &SHOUT, &SLEEP_MS]);
    if std::env::var_os(ORPHAN_ENV).is_some() {
        orphan_parent();
    }
    if std::env::var_os(LONG_JOB_ENV).is_some() {
        long_job_child();
    }
    let tests: &[(&str, fn())] = &[
        ("thread_pool_map_keeps_order", thread_pool_map_keeps_order),
        (
            "thread_pool_panic_is_an_error_and_the_pool_keeps_working",
            thread_pool_panic_is_an_error,
        ),
        (
            "to_thread_calls_are_bounded_by_the_pool_size",
            to_thread_calls_are_bounded,
        ),
        ("idle_threads_retire", idle_threads_retire),
        ("process_pool_map_keeps_order", process_pool_map_keeps_order),
        (
            "process_pool_runs_10000_small_jobs",
            process_pool_runs_10000_small_jobs,
        ),
        (
            "a_crashing_worker_fails_its_job_and_is_replaced",
            a_crashing_worker_fails_its_job_and_is_replaced,
        ),
        ("a_panicking_job_is_an_error", a_panicking_job_is_an_error),
        (
            "an_unregistered_job_says_what_to_add",
            an_unregistered_job_says_what_to_add,
        ),
        (
            "a_worker_without_the_hook_says_what_to_add",
            a_worker_without_the_hook_says_what_to_add,
        ),
        (
            "no_zombies_after_shutdown_or_drop",
            no_zombies_after_shutdown_or_drop,
        ),
        (
            "workers_exit_when_the_parent_dies",
            workers_exit_when_the_parent_dies,
        ),
        (
            "jobs_run_in_parallel_processes",
            jobs_run_in_parallel_processes,
        ),
        (
            "a_job_outlives_the_idle_thread_that_started_its_worker",
            a_job_outlives_the_idle_thread_that_started_its_worker,
        ),
        (
            "a_job_past_the_job_timeout_kills_its_worker",
            a_job_past_the_job_timeout_kills_its_worker,
        ),
        (
            "dropping_a_submit_kills_the_worker_running_it",
            dropping_a_submit_kills_the_worker_running_it,
        ),
        (
            "shutdown_with_a_hung_job_returns_within_its_bound",
            shutdown_with_a_hung_job_returns_within_its_bound,
        ),
        (
            "a_worker_dying_while_idle_is_reported_and_replaced",
            a_worker_dying_while_idle_is_reported_and_replaced,
        ),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let start = Instant::now();
        match catch_unwind(AssertUnwindSafe(test)) {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok ({:.2?})", start.elapsed());
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED");
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

fn thread_pool_map_keeps_order() {
    corio::run(async {
        let pool = ThreadPool::new(4);
        let out = pool
            .map(
                |ms: u64| {
                    std::thread::sleep(Duration::from_millis(ms));
                    ms
                },
                [30, 1, 20, 5, 10],
            )
            .await;
        let out: Vec<u64> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(out, vec![30, 1, 20, 5, 10]);
    });
}

fn thread_pool_panic_is_an_error() {
    corio::run(async {
        let pool = ThreadPool::new(2);
        let err = pool
            .submit(|| -> u32 { panic!("thread job boom (expected in this test)") })
            .await
            .unwrap_err();
        assert!(matches!(err, TaskError::Panicked(_)));
        assert_eq!(
            pool.submit(|| 7).await.unwrap(),
            7,
            "the pool keeps working"
        );
        let err =
            corio::to_thread(|| -> u8 { panic!("to_thread boom (expected in this test)") }).await;
        assert!(err.unwrap_err().is_panic());
    });
}

fn to_thread_calls_are_bounded() {
    assert_eq!(ThreadPool::shared().max_workers(), default_max_workers());
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(default_max_workers(), (cores + 4).min(32));
    corio::run(async {
        let pool = ThreadPool::new(3);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..30)
            .map(|_| {
                let (running, peak) = (running.clone(), peak.clone());
                pool.submit(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for job in corio::gather_all(jobs).await {
            job.unwrap();
        }
        assert!(
            peak.load(Ordering::SeqCst) <= 3,
            "never more than max_workers at once"
        );
        assert!(pool.workers() <= 3);
    });
}

fn idle_threads_retire() {
    let pool = ThreadPool::with_options(2, Duration::from_millis(50), "retiring");
    corio::run(async {
        pool.map(|x: u32| x, 0..10).await;
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.workers() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pool.workers(), 0, "idle workers exited");
    pool.shutdown(true);
}

fn process_pool_map_keeps_order() {
    corio::run(async {
        let pool = ProcessPool::new(2);
        let out: Vec<u64> = pool
            .map(&SQUARE, [9, 1, 7, 3])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(out, vec![81, 1, 49, 9]);
        let shouted = pool.submit(&SHOUT, "quiet".to_owned()).await.unwrap();
        assert_eq!(
            shouted, "QUIET",
            "stdout prints in a job do not corrupt the pipe"
        );
        pool.shutdown().await;
    });
}

fn process_pool_runs_10000_small_jobs() {
    corio::run(async {
        let pool = ProcessPool::new(2);
        let results = pool.map(&SQUARE, 0..10_000u64).await;
        assert_eq!(results.len(), 10_000);
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap(), (i * i) as u64);
        }
        pool.shutdown().await;
    });
}

fn a_crashing_worker_fails_its_job_and_is_replaced() {
    corio::run(async {
        let pool = ProcessPool::new(2);
        let before = pool.submit(&PID, ()).await.unwrap();
        let (crashed, others) =
            corio::gather!(pool.submit(&CRASH, ()), pool.map(&SQUARE, 0..100u64));
        match crashed {
            Err(ProcessError::WorkerCrashed { status }) => {
                let status = status.expect("reaped");
                assert!(!status.success(), "{status}");
            }
            other => panic!("expected WorkerCrashed, got {other:?}"),
        }
        for (i, r) in others.into_iter().enumerate() {
            assert_eq!(r.unwrap(), (i * i) as u64, "other jobs unaffected");
        }
        assert_eq!(
            pool.submit(&SQUARE, 12).await.unwrap(),
            144,
            "the pool keeps working"
        );
        let after: Vec<u32> = pool
            .map(&PID, [(), (), (), ()])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(after.iter().all(|&p| p != 0));
        let _ = before;
        pool.shutdown().await;
    });
}

fn a_panicking_job_is_an_error() {
    corio::run(async {
        let pool = ProcessPool::new(1);
        let first = pool.submit(&PID, ()).await.unwrap();
        match pool
            .submit(&PANICS, "job boom (expected in this test)".into())
            .await
        {
            Err(ProcessError::Panicked(message)) => {
                assert_eq!(message, "job boom (expected in this test)")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            pool.submit(&PID, ()).await.unwrap(),
            first,
            "a panic does not kill the worker"
        );
        pool.shutdown().await;
    });
}

fn an_unregistered_job_says_what_to_add() {
    corio::run(async {
        let pool = ProcessPool::new(1);
        let err = pool.submit(&UNREGISTERED, 3).await.unwrap_err();
        assert!(matches!(err, ProcessError::UnknownJob(ref name) if name == "unregistered"));
        let message = err.to_string();
        assert!(message.contains("worker_main"), "{message}");
        pool.shutdown().await;
    });
}

fn a_worker_without_the_hook_says_what_to_add() {
    corio::run(async {
        // A program that exits at once, and one that prints something else.
        for pool in [
            ProcessPool::with_program(1, "true", Vec::<String>::new()),
            ProcessPool::with_program(
                1,
                "sh",
                ["-c", "echo I am a normal program, not a worker; sleep 5"],
            ),
        ] {
            let err = pool.submit(&SQUARE, 2).await.unwrap_err();
            assert!(matches!(err, ProcessError::WorkerStart(_)), "{err:?}");
            assert!(err.to_string().contains("worker_main"), "{err}");
        }
    });
}

/// Children of this process that are zombies (exited, not reaped).
fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    let mut zombies = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.trim().to_owned()) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 1 && fields[1] == me.to_string() && fields[0] == "Z" {
            zombies.push(entry.file_name().to_string_lossy().parse().unwrap_or(0));
        }
    }
    zombies
}

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, r)| r.trim().chars().next());
        !matches!(state, Some(Some('Z')) | Some(Some('X')))
    })
}

fn no_zombies_after_shutdown_or_drop() {
    corio::run(async {
        let pool = ProcessPool::new(3);
        let pids: Vec<u32> = pool
            .map(&PID, vec![(); 30])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let _ = pool.submit(&CRASH, ()).await; // one crashed worker, reaped too
        pool.shutdown().await;
        assert!(
            zombie_children().is_empty(),
            "zombies after shutdown: {:?}",
            zombie_children()
        );
        for pid in &pids {
            assert!(
                !process_alive(*pid),
                "worker {pid} still alive after shutdown"
            );
        }

        let pool = ProcessPool::new(2);
        let pids: Vec<u32> = pool
            .map(&PID, vec![(); 10])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        drop(pool); // kills and reaps at once
        assert!(
            zombie_children().is_empty(),
            "zombies after drop: {:?}",
            zombie_children()
        );
        for pid in &pids {
            assert!(!process_alive(*pid), "worker {pid} still alive after drop");
        }
    });
}

/// Run as a separate process: start a pool, print a worker's pid, die.
fn orphan_parent() {
    corio::run(async {
        let pool = ProcessPool::new(1);
        let worker = pool.submit(&PID, ()).await.unwrap();
        println!("{worker}");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        // SAFETY: kill(2) on our own pid.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    });
}

fn workers_exit_when_the_parent_dies() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env(ORPHAN_ENV, "1")
        .output()
        .unwrap();
    assert!(!output.status.success(), "the parent was killed");
    let worker: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("worker pid printed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_alive(worker) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !process_alive(worker),
        "worker {worker} outlived its parent"
    );
}

fn jobs_run_in_parallel_processes() {
    corio::run(async {
        let pool = ProcessPool::new(2);
        let pids: std::collections::HashSet<u32> = pool
            .map(&PID, vec![(); 50])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(
            pids.len() >= 2,
            "more than one worker process served jobs: {pids:?}"
        );
        assert!(
            !pids.contains(&std::process::id()),
            "jobs ran outside this process"
        );
        pool.shutdown().await;
    });
}

/// Child role: with the shared thread pool's threads retiring after 300 ms
/// idle, a job of 1.5 s (and a second one after an idle pause) must finish.
fn long_job_child() {
    let ok = corio::run(async {
        let pool = ProcessPool::new(1);
        let first = pool.submit(&SLEEP_MS, 1500).await;
        corio::sleep(Duration::from_millis(800)).await; // the worker idles
        let second = pool.submit(&SLEEP_MS, 10).await;
        println!("{first:?} {second:?}");
        matches!((first, second), (Ok(1500), Ok(10)))
    });
    std::process::exit(if ok { 0 } else { 1 });
}

fn a_job_outlives_the_idle_thread_that_started_its_worker() {
    // Regression: workers set PR_SET_PDEATHSIG, which fires when the
    // *thread* that started them exits; they were started from the shared
    // thread pool, whose idle threads retire.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env(LONG_JOB_ENV, "1")
        .env("CORIO_THREAD_IDLE_MS", "300")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the long job failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Waits (up to 5 s, letting the loop run) for process `pid` to be gone.
async fn gone_soon(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(pid) && Instant::now() < deadline {
        corio::sleep(Duration::from_millis(10)).await;
    }
    !process_alive(pid)
}

fn a_job_past_the_job_timeout_kills_its_worker() {
    corio::run(async {
        let pool = ProcessPool::new(1).job_timeout(Some(Duration::from_millis(300)));
        let worker = pool.submit(&PID, ()).await.unwrap();
        let started = Instant::now();
        let err = pool.submit(&SLEEP_MS, 60_000).await.unwrap_err();
        assert!(matches!(err, ProcessError::TimedOut(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(gone_soon(worker).await, "the hung worker was killed");
        // A new worker takes the next job.
        let next = pool.submit(&PID, ()).await.unwrap();
        assert_ne!(next, worker);
        assert_eq!(pool.submit(&SQUARE, 9).await.unwrap(), 81);
        pool.shutdown().await;
    });
}

fn dropping_a_submit_kills_the_worker_running_it() {
    corio::run(async {
        let pool = ProcessPool::new(1);
        let worker = pool.submit(&PID, ()).await.unwrap();
        let hung = corio::timeout(Duration::from_millis(300), pool.submit(&SLEEP_MS, 60_000)).await;
        assert!(hung.is_err(), "timed out");
        assert!(
            gone_soon(worker).await,
            "the worker of the dropped job was killed"
        );
        assert_eq!(pool.submit(&SQUARE, 4).await.unwrap(), 16, "and replaced");
        pool.shutdown().await;
    });
}

fn shutdown_with_a_hung_job_returns_within_its_bound() {
    corio::run(async {
        let pool = Rc::new(ProcessPool::new(1).shutdown_timeout(Some(Duration::from_millis(300))));
        let worker = pool.submit(&PID, ()).await.unwrap();
        let p = pool.clone();
        let hung = corio::spawn(async move { p.submit(&SLEEP_MS, 60_000).await });
        let p = pool.clone();
        let queued = corio::spawn(async move { p.submit(&SQUARE, 3).await });
        corio::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        corio::timeout(Duration::from_secs(10), pool.shutdown())
            .await
            .expect("shutdown hung");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(hung.await.unwrap(), Err(ProcessError::ShutDown)));
        assert!(matches!(queued.await.unwrap(), Err(ProcessError::ShutDown)));
        assert!(gone_soon(worker).await, "the busy worker was killed");
    });
}

fn a_worker_dying_while_idle_is_reported_and_replaced() {
    let reports = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = reports.clone();
    let rt = corio::Runtime::builder()
        .exception_handler(move |e| seen.lock().unwrap().push(e.message.clone()))
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = ProcessPool::new(1);
        let worker = pool.submit(&PID, ()).await.unwrap();
        // SAFETY: kill(2) on our own worker process.
        unsafe { libc::kill(worker as i32, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while reports.lock().unwrap().is_empty() && Instant::now() < deadline {
            corio::sleep(Duration::from_millis(10)).await;
        }
        let next = pool.submit(&PID, ()).await.unwrap();
        assert_ne!(next, worker);
        pool.shutdown().await;
    });
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("exited while idle"), "{reports:?}");
}
