//! `spawn` and `spawn_named`.

use std::borrow::Cow;
use std::future::Future;
use std::panic::Location;

use super::Task;
use crate::runtime::spawn_on_current;

/// Spawns `future` as a task on the running loop (asyncio's `create_task`).
/// The future need not be `Send`. The task starts at the loop's next
/// iteration; dropping the returned [`Task`] detaches it (it keeps running).
///
/// Panics if no loop is running on this thread.
///
/// ```
/// corio::run(async {
///     let task = corio::spawn(async { "done" });
///     assert_eq!(task.await.unwrap(), "done");
/// });
/// ```
#[track_caller]
pub fn spawn<F: Future + 'static>(future: F) -> Task<F::Output> {
    let location = Location::caller();
    spawn_on_current("spawn", future, None, location)
}

/// Like [`spawn`], with a name shown by [`all_tasks`](crate::all_tasks),
/// debug warnings and panic reports.
#[track_caller]
pub fn spawn_named<F: Future + 'static>(
    name: impl Into<Cow<'static, str>>,
    future: F,
) -> Task<F::Output> {
    let location = Location::caller();
    spawn_on_current("spawn_named", future, Some(name.into()), location)
}
