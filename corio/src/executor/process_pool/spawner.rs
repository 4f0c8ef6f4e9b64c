//! Where worker processes are started: one thread per process that never
//! exits.
//!
//! Workers set `PR_SET_PDEATHSIG`, which the kernel fires when the *thread*
//! that started them exits, not the process. Started from a thread-pool
//! thread, a worker died as soon as that thread retired (10 s idle), in the
//! middle of its job. Started here, a worker lives as long as this process
//! (and its pool, which kills it on drop), whichever thread made the pool.
//! Starting stays off the loop thread: fork/exec can take milliseconds.

use std::io;
use std::process::{Child, Command};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::executor::ThreadPool;

/// Long enough to mean "never" (a century), short enough for any timer.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Starts `command` on the spawner thread.
pub(crate) async fn spawn(mut command: Command) -> io::Result<Child> {
    spawner()
        .submit(move || command.spawn())
        .await
        .map_err(|e| io::Error::other(format!("the worker spawner thread failed: {e}")))?
}

/// The spawner of this process. A child forked from this process inherits
/// the record but not the thread, so it is made anew when the pid differs.
fn spawner() -> ThreadPool {
    static SPAWNER: Mutex<Option<(u32, ThreadPool)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = SPAWNER.lock().unwrap_or_else(PoisonError::into_inner);
    match &*slot {
        Some((owner, pool)) if *owner == pid => pool.clone(),
        _ => {
            let pool = ThreadPool::with_options(1, NEVER, "corio-spawner");
            // The parent's pool (if any) belongs to a thread this process
            // does not have: forget it rather than touch its state.
            if let Some(inherited) = slot.replace((pid, pool.clone())) {
                std::mem::forget(inherited);
            }
            pool
        }
    }
}
