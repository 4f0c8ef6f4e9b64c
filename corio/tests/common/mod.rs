//! Helpers shared by the sync and queue tests.

use std::time::Duration;

/// Lets every ready task run until all are parked.
pub async fn settle() {
    for _ in 0..10 {
        corio::yield_now().await;
    }
}

/// Awaits `f`, failing (instead of hanging) if a lost wake-up leaves it stuck:
/// on the paused clock the hour passes at once when every task is parked.
pub async fn must_finish<F: std::future::Future>(f: F) -> F::Output {
    corio::timeout(Duration::from_secs(3600), f)
        .await
        .expect("stuck: a permit, item or wake-up was lost")
}
