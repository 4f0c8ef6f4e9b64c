//! corio's `tracing` feature with a plain subscriber printing to stderr:
//! every task's span (id, name, where it was spawned) around what it logs,
//! a slow-callback warning (debug mode) and an unretrieved panic.
//!
//! ```sh
//! cargo run --features tracing --example tracing
//! ```

use std::time::Duration;

fn main() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_target(false)
        .init();
    let runtime = corio::Builder::new()
        .debug(true)
        .slow_callback_duration(Duration::from_millis(20))
        .build()
        .expect("a loop");
    runtime.block_on(async {
        let workers: Vec<_> = (0..3)
            .map(|i| {
                corio::spawn_named(format!("worker-{i}"), async move {
                    corio::sleep(Duration::from_millis(10 * i)).await;
                    tracing::info!(i, "worker done");
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("a worker");
        }
        // Blocks the loop for 50 ms: a WARN "slow callback" event.
        corio::spawn(async { std::thread::sleep(Duration::from_millis(50)) })
            .await
            .expect("the slow task");
        // Nobody awaits it: an ERROR event in its span.
        corio::spawn(async { panic!("nobody will see this but the log") }).detach();
        corio::sleep(Duration::from_millis(10)).await;
    });
}
