//! Hooks around the loop's blocking wait for I/O: what an embedder (the
//! Python front) needs to release a lock while the thread sleeps (the GIL)
//! and to react to a signal that interrupted the wait (run Python's signal
//! handlers).

use std::time::Duration;

/// Called around every wait on the reactor that may block.
///
/// `before_wait` runs just before the thread may sleep in `epoll_wait`
/// (never for a non-blocking poll); `after_wait` right after it returns,
/// with `interrupted` set when a signal cut the wait short (`EINTR`; the
/// loop then goes on with its iteration as if nothing was ready). Both run
/// on the loop thread, outside any borrow of the loop, so they may call
/// back into it.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use corio::runtime::WaitHooks;
///
/// #[derive(Default)]
/// struct CountWaits(AtomicUsize);
/// impl WaitHooks for CountWaits {
///     fn before_wait(&self, _timeout: Option<Duration>) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
/// let hooks = Arc::new(CountWaits::default());
/// let rt = corio::Runtime::builder().wait_hooks(hooks.clone()).build().unwrap();
/// rt.block_on(corio::sleep(Duration::from_millis(5)));
/// assert!(hooks.0.load(Ordering::Relaxed) >= 1);
/// ```
pub trait WaitHooks: Send + Sync {
    /// The loop is about to wait up to `timeout` (`None`: until woken).
    fn before_wait(&self, timeout: Option<Duration>) {
        let _ = timeout;
    }

    /// The wait is over; `interrupted` when a signal ended it (`EINTR`).
    fn after_wait(&self, interrupted: bool) {
        let _ = interrupted;
    }
}
