//! The event loop: [`Runtime`], [`run`], callbacks and the thread-safe
//! [`LoopHandle`].
//!
//! One iteration of the loop follows asyncio's `_run_once`: compute the poll
//! timeout (zero when work is ready), poll for I/O, move due timers to the
//! ready queue, then run only the runnables that were ready when the
//! iteration began. While work stays ready, the I/O poll is skipped until
//! `event_interval` runnables (61 by default, as tokio) have run, so a
//! `yield_now` costs no system call; with no descriptor registered it is
//! skipped for as long as work stays ready (a cross-thread wake is seen
//! without it).

mod callback;
pub(crate) mod completion;
mod context;
pub(crate) mod core;
mod debug;
mod handle;
mod main_waker;
mod per_core;
pub(crate) mod registration;
mod report;
mod runnable;
mod shared;
pub(crate) mod task;
mod timer;
mod wait_hooks;

use std::future::Future;
use std::io;
use std::ops::ControlFlow;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use crate::driver::io::IoBackend;
pub use callback::{call_at, call_later, call_soon, Handle};
pub use debug::{SlowCallback, TaskInfo, TaskState};
pub use handle::{LoopClosed, LoopHandle, RemoteTask};
pub use per_core::{per_core, PerCore};
pub use report::LoopError;
pub use runnable::{RawRunnable, RawRunnableVTable, RcRunnable};
pub(crate) use shared::Shared;
pub use task::{panic_message, Task, TaskError};
pub use timer::Sleep;
pub(crate) use timer::TimerAction;
pub use wait_hooks::WaitHooks;

use self::core::{Core, CoreConfig};
use crate::coop;

/// Loop ids are unique per process, so a stale waker never reaches a newer loop.
static NEXT_LOOP_ID: AtomicU64 = AtomicU64::new(1);

/// A single-threaded event loop (asyncio's event loop).
///
/// `Runtime` is `!Send`: it runs on the thread that made it. Dropping it
/// closes the loop: the futures of tasks still pending are dropped (their
/// destructors run) and awaiting them gives [`TaskError::Cancelled`](crate::TaskError).
///
/// ```
/// let rt = corio::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let task = corio::spawn(async { 6 * 7 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    core: Rc<Core>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("id", &self.core.id)
            .finish()
    }
}

/// Configures a [`Runtime`].
///
/// ```
/// use std::time::Duration;
/// let rt = corio::Runtime::builder()
///     .paused(true) // virtual time: sleeps finish at once, in order
///     .debug(true)
///     .slow_callback_duration(Duration::from_millis(50))
///     .build()
///     .unwrap();
/// rt.block_on(corio::sleep(Duration::from_secs(3600)));
/// ```
pub struct Builder {
    paused: bool,
    debug: bool,
    slow_callback_duration: Duration,
    on_slow_callback: Option<debug::SlowCallbackHook>,
    exception_handler: Option<report::ErrorHook>,
    wait_hooks: Option<Arc<dyn WaitHooks>>,
    event_interval: u32,
    poll_each_iteration: bool,
    io_backend: Option<IoBackend>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("paused", &self.paused)
            .field("debug", &self.debug)
            .field("slow_callback_duration", &self.slow_callback_duration)
            .field("event_interval", &self.event_interval)
            .field("poll_each_iteration", &self.poll_each_iteration)
            .field("io_backend", &self.io_backend)
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            paused: false,
            debug: debug::debug_from_env(),
            slow_callback_duration: Duration::from_millis(100),
            on_slow_callback: None,
            exception_handler: None,
            wait_hooks: None,
            event_interval: 61,
            poll_each_iteration: false,
            io_backend: None,
        }
    }
}

impl Builder {
    /// A builder with the defaults: real clock, debug mode from the
    /// `CORIO_DEBUG` environment variable, 100 ms slow-callback threshold.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Virtual time: the clock stands still while tasks run and jumps straight
    /// to the next timer whenever every task waits, so timeout-heavy code runs
    /// instantly and deterministically. (Like tokio's `start_paused`.)
    ///
    /// The clock does not jump while work handed to other threads through the
    /// loop (such as `to_thread`) is in flight.
    pub fn paused(mut self, paused: bool) -> Builder {
        self.paused = paused;
        self
    }

    /// asyncio's debug mode: warn when one poll or callback runs longer than
    /// [`slow_callback_duration`](Builder::slow_callback_duration). Also
    /// enabled by `CORIO_DEBUG=1`.
    pub fn debug(mut self, debug: bool) -> Builder {
        self.debug = debug;
        self
    }

    /// The debug-mode threshold for a slow poll or callback (default 100 ms).
    pub fn slow_callback_duration(mut self, threshold: Duration) -> Builder {
        self.slow_callback_duration = threshold;
        self
    }

    /// Where debug-mode warnings go (default: a line on stderr).
    pub fn on_slow_callback(
        mut self,
        f: impl Fn(&SlowCallback) + Send + Sync + 'static,
    ) -> Builder {
        self.on_slow_callback = Some(Arc::new(f));
        self
    }

    /// asyncio's exception handler: where the loop reports what nobody else
    /// will see (a panic in a detached task or a callback, a failed TLS
    /// handshake on a server). The default prints one line on stderr.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// let rt = corio::Runtime::builder()
    ///     .exception_handler(move |e| log.lock().unwrap().push(e.message.clone()))
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     drop(corio::spawn(async { panic!("lost") }));
    ///     corio::yield_now().await;
    /// });
    /// assert!(seen.lock().unwrap()[0].contains("lost"));
    /// ```
    pub fn exception_handler(mut self, f: impl Fn(&LoopError) + Send + Sync + 'static) -> Builder {
        self.exception_handler = Some(Arc::new(f));
        self
    }

    /// Hooks around the loop's blocking wait for I/O (see [`WaitHooks`]).
    pub fn wait_hooks(mut self, hooks: Arc<dyn WaitHooks>) -> Builder {
        self.wait_hooks = Some(hooks);
        self
    }

    /// How many runnables may run while work stays ready before the loop
    /// polls for I/O again (default 61, as tokio); only while some
    /// descriptor is registered, as a poll has nothing else to find.
    pub fn event_interval(mut self, n: u32) -> Builder {
        self.event_interval = n;
        self
    }

    /// asyncio's rhythm: while any I/O source is registered, every
    /// iteration polls for I/O (without waiting when work is ready), so a
    /// descriptor that became ready is seen at the next iteration, as
    /// asyncio's selector loop sees it. Off by default: corio's own loop
    /// skips that poll while work stays ready, up to `event_interval`
    /// runnables (or 1 ms with timers pending), saving a system call per
    /// iteration. corio's Python loop turns it on.
    pub fn poll_each_iteration(mut self, yes: bool) -> Builder {
        self.poll_each_iteration = yes;
        self
    }

    /// The kernel interface the loop waits on for I/O (see [`IoBackend`]).
    /// Unset, the `CORIO_IO_BACKEND` environment variable decides, and
    /// epoll when that is unset too.
    ///
    /// ```
    /// use corio::runtime::IoBackend;
    /// let rt = corio::Runtime::builder().io_backend(IoBackend::Epoll).build().unwrap();
    /// assert_eq!(rt.io_backend(), IoBackend::Epoll);
    /// ```
    pub fn io_backend(mut self, backend: IoBackend) -> Builder {
        self.io_backend = Some(backend);
        self
    }

    /// Builds the runtime. Fails if the OS refuses the I/O backend (an
    /// epoll instance or an eventfd at the file descriptor limit; io_uring
    /// where the kernel lacks or forbids it: no fall-back to epoll), or if
    /// `CORIO_IO_BACKEND` names no backend.
    pub fn build(self) -> io::Result<Runtime> {
        let backend = match self.io_backend {
            Some(backend) => backend,
            None => IoBackend::from_env()?,
        };
        self.build_on(crate::driver::io::Reactor::with_backend(backend)?)
    }

    /// Builds the runtime over a given reactor (another backend).
    pub(crate) fn build_on(self, reactor: crate::driver::io::Reactor) -> io::Result<Runtime> {
        context::reset_in_forked_children();
        let debug = self.debug.then(|| debug::DebugConfig {
            slow_callback_duration: self.slow_callback_duration,
            on_slow_callback: self
                .on_slow_callback
                .unwrap_or_else(|| Arc::new(debug::warn_on_stderr)),
        });
        let config = CoreConfig {
            paused: self.paused,
            event_interval: self.event_interval,
            poll_each_iteration: self.poll_each_iteration,
            debug,
            exception_handler: self
                .exception_handler
                .unwrap_or_else(|| Arc::new(report::report_on_stderr)),
            wait_hooks: self.wait_hooks,
        };
        let id = NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed);
        Ok(Runtime {
            core: Core::with_reactor(id, config, reactor)?,
        })
    }
}

impl Runtime {
    /// A runtime with the default settings ([`Builder::new`]).
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The kernel interface this loop waits on for I/O.
    pub fn io_backend(&self) -> IoBackend {
        self.core.reactor().io_backend().unwrap_or_default()
    }

    /// Runs `future` to completion on this loop, running spawned tasks,
    /// callbacks and I/O meanwhile (asyncio's `run_until_complete`).
    ///
    /// Tasks still pending when it returns stay pending until the next
    /// `block_on` or until the runtime is dropped.
    ///
    /// Panics if a loop is already running on this thread.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let core = &*self.core;
        let _enter = context::enter(core);
        let shared = &*core.shared;
        shared.wake_main();
        let waker = main_waker::main_waker(core.id);
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if shared.take_main_woken() {
                let _budget = coop::BudgetGuard::task();
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
                // The main future is a runnable like any other: it counts
                // toward the next I/O and timer check.
                core.count_ran(1);
            }
            core.run_iterations_while(shared.main_woken(), || !shared.main_woken());
        }
    }

    /// Runs the loop until [`stop`] (or [`LoopHandle::stop`]) is called
    /// (asyncio's `run_forever`). The iteration in progress finishes first;
    /// a stop requested before the call still lets one iteration run, as in
    /// asyncio.
    ///
    /// Panics if a loop is already running on this thread.
    #[track_caller]
    pub fn run_forever(&self) {
        let core = &*self.core;
        let _enter = context::enter(core);
        loop {
            core.run_iterations_while(false, || !core.shared.stop_requested());
            if core.take_stop() {
                break;
            }
        }
    }

    /// Runs one iteration of the loop: polls for I/O (without blocking if
    /// work is ready), fires due timers, then runs the callbacks and tasks
    /// that were ready. For an embedder that drives the loop itself.
    ///
    /// Panics if a loop is already running on this thread.
    #[track_caller]
    pub fn run_once(&self) {
        let _enter = context::enter(&self.core);
        self.core.run_once(false);
    }

    /// Runs iterations as [`run_once`](Runtime::run_once) does, entering the
    /// loop once for all of them (an embedder's own `run_forever`). Before
    /// each, `next` says whether to go on, and whether this iteration's poll
    /// may wait (`Continue(true)`: it must not, as in
    /// [`run_once_nowait`](Runtime::run_once_nowait)); its `Break` value is
    /// returned.
    ///
    /// Panics if a loop is already running on this thread.
    #[track_caller]
    pub fn run_iterations<B>(&self, mut next: impl FnMut() -> ControlFlow<B, bool>) -> B {
        let _enter = context::enter(&self.core);
        loop {
            match next() {
                ControlFlow::Continue(nowait) => self.core.run_once(nowait),
                ControlFlow::Break(done) => return done,
            }
        }
    }

    /// Like [`run_once`](Runtime::run_once), but the I/O poll never waits
    /// (asyncio's iteration while it is stopping).
    #[track_caller]
    pub fn run_once_nowait(&self) {
        let _enter = context::enter(&self.core);
        self.core.run_once(true);
    }

    /// Asks [`run_forever`](Runtime::run_forever) to return after the
    /// current iteration (asyncio's `loop.stop()`), from this thread, the
    /// loop running or not.
    pub fn stop(&self) {
        self.core.stop();
    }

    /// Schedules `f` for the loop's next iteration (asyncio's
    /// `loop.call_soon`), whether or not the loop is running now.
    #[track_caller]
    pub fn call_soon<F: FnOnce() + 'static>(&self, f: F) -> Handle {
        callback::call_soon_on(&self.core, f, std::panic::Location::caller())
    }

    /// Schedules `f` to run after `delay` (asyncio's `loop.call_later`),
    /// whether or not the loop is running now.
    #[track_caller]
    pub fn call_later<F: FnOnce() + 'static>(&self, delay: Duration, f: F) -> Handle {
        let (when, ns) = self.core.deadline_in(delay);
        callback::call_at_on(&self.core, when, ns, f, std::panic::Location::caller())
    }

    /// Schedules `f` to run at `when` on the loop's clock (asyncio's
    /// `loop.call_at`), whether or not the loop is running now.
    #[track_caller]
    pub fn call_at<F: FnOnce() + 'static>(&self, when: Instant, f: F) -> Handle {
        let ns = self.core.ns_at(when);
        callback::call_at_on(&self.core, when, ns, f, std::panic::Location::caller())
    }

    /// Puts a [`RawRunnable`] on the ready queue (the foreign-callback fast
    /// path: no allocation of corio's).
    pub fn call_soon_raw(&self, runnable: RawRunnable) {
        self.core.push_raw(runnable);
    }

    /// Runs a [`RawRunnable`] at `when`; the [`TimerId`] cancels it.
    pub fn call_at_raw(&self, when: Instant, runnable: RawRunnable) -> TimerId {
        TimerId(
            self.core
                .insert_timer(self.core.ns_at(when), TimerAction::Raw(runnable)),
        )
    }

    /// Cancels a timer from [`call_at_raw`](Runtime::call_at_raw): its
    /// runnable is dropped unrun. `false` if it already fired.
    pub fn cancel_timer(&self, timer: TimerId) -> bool {
        let action = self.core.cancel_timer(timer.0);
        let found = action.is_some();
        drop(action);
        found
    }

    /// Replaces the wait hooks (see [`WaitHooks`]); `None` removes them.
    pub fn set_wait_hooks(&self, hooks: Option<Arc<dyn WaitHooks>>) {
        self.core.set_wait_hooks(hooks);
    }

    /// Spawns a task on this loop; it starts at the next `block_on` or
    /// `run_forever` if the loop is not running.
    #[track_caller]
    pub fn spawn<F: Future + 'static>(&self, future: F) -> Task<F::Output> {
        Task::from_ref(
            self.core
                .spawn(future, None, std::panic::Location::caller()),
        )
    }

    /// Spawns a task on this loop and polls it once right away, on the
    /// calling thread, as asyncio's eager tasks start: a future that is
    /// ready at once completes before this returns, one that waits is
    /// woken as usual. The first poll runs nested inside the caller, with
    /// this loop current (so the future may sleep, spawn, do I/O), whether
    /// the loop is running (called from one of its tasks or callbacks) or
    /// not yet; called from a task of another loop, the task is queued
    /// instead, as [`spawn`](Runtime::spawn) does.
    #[track_caller]
    pub fn spawn_eager<F: Future + 'static>(&self, future: F) -> Task<F::Output> {
        Task::from_ref(self.core.spawn_with::<F, true>(
            future,
            None,
            std::panic::Location::caller(),
        ))
    }

    /// A handle other threads may use to reach this loop.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.core.shared.clone(),
        }
    }

    /// The loop's clock (virtual when paused): asyncio's `loop.time()`.
    pub fn now(&self) -> Instant {
        self.core.now()
    }

    /// Moves a paused clock forward by `by`, firing the timers that come due
    /// at the loop's next iteration. Panics if the runtime is not paused.
    pub fn advance(&self, by: Duration) {
        assert!(
            self.core.is_paused(),
            "Runtime::advance needs a paused runtime (Builder::paused)"
        );
        self.core.advance_clock(by);
    }

    /// The loop's state, for the layers above that act on an explicit loop.
    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    /// Replaces the exception handler (see [`Builder::exception_handler`]).
    pub fn set_exception_handler(&self, f: impl Fn(&LoopError) + Send + Sync + 'static) {
        self.core.set_exception_handler(Arc::new(f));
    }

    /// The tasks of this loop not yet finished.
    pub fn all_tasks(&self) -> Vec<TaskInfo> {
        self.core.all_tasks()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _enter = context::enter_for_shutdown(&self.core);
        self.core.shutdown();
    }
}

/// Runs `future` on a new loop until it completes, then closes the loop,
/// cancelling the tasks still pending (asyncio's `asyncio.run`).
///
/// Debug mode follows `CORIO_DEBUG`. Panics if a loop is already running on
/// this thread, or if the OS refuses an epoll instance.
///
/// ```
/// let n = corio::run(async {
///     corio::sleep(std::time::Duration::from_millis(1)).await;
///     7
/// });
/// assert_eq!(n, 7);
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    let rt =
        Runtime::new().unwrap_or_else(|e| panic!("corio::run could not create an event loop: {e}"));
    rt.block_on(future)
}

/// Stops the running loop's [`Runtime::run_forever`] after the current
/// iteration (asyncio's `loop.stop()`).
///
/// Panics if no loop is running on this thread.
#[track_caller]
pub fn stop() {
    context::expect_current("stop", |core| core.stop());
}

/// The tasks of the running loop not yet finished, with their names, spawn
/// locations and states (asyncio's `all_tasks`).
///
/// Panics if no loop is running on this thread.
#[track_caller]
pub fn all_tasks() -> Vec<TaskInfo> {
    context::expect_current("all_tasks", |core| core.all_tasks())
}

/// Spawns on the running loop (the task layer's way in); `what` names the
/// caller in the panic outside a loop.
#[track_caller]
pub(crate) fn spawn_on_current<F: Future + 'static>(
    what: &str,
    future: F,
    name: Option<std::borrow::Cow<'static, str>>,
    location: &'static std::panic::Location<'static>,
) -> Task<F::Output> {
    context::expect_current(what, |core| {
        Task::from_ref(core.spawn(future, name, location))
    })
}

/// Work handed to another thread that will come back to the running loop:
/// while one is alive, a paused clock does not jump ahead.
pub(crate) struct InFlight(Arc<Shared>);

impl InFlight {
    /// Counts one piece of work for the loop running here, if any.
    pub(crate) fn begin() -> Option<InFlight> {
        context::with_current(|core| InFlight(core.shared.begin_in_flight()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end_in_flight();
    }
}

/// Hands `message` to the running loop's exception handler (stderr when
/// no loop runs here).
pub(crate) fn report(message: String) {
    context::report(LoopError::new(message));
}

/// Whether the running loop is in debug mode.
pub(crate) fn debug_enabled() -> bool {
    context::debug_enabled()
}

/// Whether a corio loop is running on this thread.
pub fn in_loop() -> bool {
    context::with_current(|_| ()).is_some()
}

/// The running loop's clock (asyncio's `loop.time()`); virtual when the
/// runtime is paused.
///
/// Panics if no loop is running on this thread.
#[track_caller]
pub fn now() -> Instant {
    context::expect_current("corio::time::now", |core| core.now())
}

/// Names a timer made with [`Runtime::call_at_raw`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId(timer::TimerKey);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::driver::io::poll_backend::PollBackend;
    use crate::driver::io::Reactor;

    /// After a burst of ready tasks the queue gives its room back once it
    /// empties (a loop does not keep a burst's queue for ever), and keeps
    /// it while a burst is still running.
    #[test]
    fn the_ready_queue_shrinks_after_a_burst() {
        let rt = super::Runtime::new().unwrap();
        let capacity = || rt.core().queue_capacity();
        rt.block_on(async {
            let tasks: Vec<_> = (0..100_000).map(|_| crate::spawn(async {})).collect();
            assert!(capacity() >= 100_000, "the burst is queued");
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert!(
            capacity() <= 8192,
            "kept {} entries after the burst",
            capacity()
        );
    }

    /// The runtime on a `poll(2)` backend instead of epoll, with nothing
    /// else changed: TCP echo, timers, a wake from another thread.
    #[test]
    fn the_runtime_runs_on_another_backend() {
        let reactor = Reactor::new(Box::new(PollBackend::new().unwrap()));
        let rt = super::Builder::new().build_on(reactor).unwrap();
        let handle = rt.handle();
        rt.block_on(async move {
            let listener = crate::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = crate::spawn(async move {
                let (s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 5];
                let mut got = 0;
                while got < 5 {
                    got += s.read(&mut buf[got..]).await.unwrap();
                }
                s.write_all(&buf).await.unwrap();
            });
            let client = crate::net::TcpStream::connect(addr).await.unwrap();
            client.write_all(b"hello").await.unwrap();
            let mut buf = [0u8; 5];
            let mut got = 0;
            while got < 5 {
                got += client.read(&mut buf[got..]).await.unwrap();
            }
            assert_eq!(&buf, b"hello");
            server.await.unwrap();
            crate::sleep(Duration::from_millis(5)).await;
            let remote = handle.spawn(async { 42 }).unwrap();
            let from_thread = std::thread::spawn(move || remote.join().unwrap());
            crate::sleep(Duration::from_millis(20)).await;
            assert_eq!(
                crate::to_thread(move || from_thread.join().unwrap())
                    .await
                    .unwrap(),
                42
            );
        });
    }
}
