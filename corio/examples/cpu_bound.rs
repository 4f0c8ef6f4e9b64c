//! The CPU-bound lesson: the same heavy job run one after another, on
//! threads (`to_thread`) and on the process pool, timed side by side.
//!
//! ```sh
//! cargo run --release --example cpu_bound
//! ```
//! The loop overlaps waiting, not computing: CPU work needs more cores.
//! Rust threads have no GIL, so they scale like processes; the process pool
//! adds isolation (a crashing job takes down only its worker).

use std::time::{Duration, Instant};

use corio::executor::{worker_main, Job, ProcessPool};

/// Counts the primes below `limit` by trial division: pure CPU.
fn count_primes(limit: u64) -> u64 {
    (2..limit)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

static COUNT_PRIMES: Job<u64, u64> = Job::new("count_primes", count_primes);

const JOBS: usize = 8;
const LIMIT: u64 = 1_500_000;

fn main() {
    worker_main(&[&COUNT_PRIMES]); // in a worker process this serves jobs and never returns
    corio::run(async {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("{JOBS} jobs of count_primes({LIMIT}) on {cores} cores\n");

        let start = Instant::now();
        let mut expected = 0;
        for _ in 0..JOBS {
            expected = count_primes(LIMIT);
        }
        let sequential = start.elapsed();

        let start = Instant::now();
        let on_threads =
            corio::gather_all((0..JOBS).map(|_| corio::to_thread(|| count_primes(LIMIT)))).await;
        let threads = start.elapsed();
        assert!(on_threads.into_iter().all(|r| r.unwrap() == expected));

        let pool = ProcessPool::with_default_workers();
        let _ = pool.submit(&COUNT_PRIMES, 10).await; // start a worker before timing
        let start = Instant::now();
        let in_processes = pool.map(&COUNT_PRIMES, vec![LIMIT; JOBS]).await;
        let processes = start.elapsed();
        assert!(in_processes.into_iter().all(|r| r.unwrap() == expected));
        pool.shutdown().await;

        let row = |name: &str, t: Duration| {
            println!(
                "{name:<28} {:>9.2?}   {:>5.2}x",
                t,
                sequential.as_secs_f64() / t.as_secs_f64()
            );
        };
        println!("{:<28} {:>9}   {:>6}", "", "time", "speed-up");
        row("one after another", sequential);
        row("threads (to_thread)", threads);
        row("process pool", processes);
        println!("\n({expected} primes below {LIMIT} in each job)");
    });
}
