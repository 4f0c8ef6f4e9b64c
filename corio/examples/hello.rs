//! The asyncio lesson in one screen: ten "requests" that each wait 100 ms,
//! one after another and then all at once on a single thread.
//!
//! Run with `cargo run --release --example hello`.

use std::time::{Duration, Instant};

use corio::{gather_all, sleep, spawn_named, TaskGroup};

/// Stands in for a network call: waiting, not computing.
async fn fake_request(id: u32) -> String {
    sleep(Duration::from_millis(100)).await;
    format!("response {id}")
}

#[corio::main]
async fn main() {
    let start = Instant::now();
    for id in 0..10 {
        fake_request(id).await;
    }
    let sequential = start.elapsed();
    println!("10 requests one after another: {sequential:>8.1?}");

    let start = Instant::now();
    let responses = gather_all((0..10).map(fake_request)).await;
    let concurrent = start.elapsed();
    println!(
        "10 requests at once (gather):  {concurrent:>8.1?}   ({} responses)",
        responses.len()
    );
    println!(
        "speed-up on one thread: {:.1}x",
        sequential.as_secs_f64() / concurrent.as_secs_f64()
    );

    // Structured concurrency: the first failure cancels the rest.
    let group = TaskGroup::new();
    for id in 0..5u32 {
        group
            .spawn(async move {
                sleep(Duration::from_millis(10 * u64::from(id))).await;
                if id == 2 {
                    return Err(format!("request {id} failed"));
                }
                Ok(id)
            })
            .detach();
    }
    match group.join().await {
        Ok(()) => println!("task group: all succeeded"),
        Err(e) => println!("task group: {e} (the others were cancelled)"),
    }

    // Timeouts cancel what they wrap.
    let slow = corio::wait_for(Duration::from_millis(50), fake_request(99)).await;
    println!("wait_for 50 ms on a 100 ms request: {slow:?}");

    let watcher = spawn_named("watcher", sleep(Duration::from_secs(60)));
    for task in corio::all_tasks() {
        println!(
            "live task #{} {:?} spawned at {} is {:?}",
            task.id, task.name, task.location, task.state
        );
    }
    watcher.cancel();
}
