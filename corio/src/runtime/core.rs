//! The loop's own state and one iteration of it (asyncio's `_run_once`).
//!
//! `Core::run_once` is the one place where runnables run. Its steps are
//! named: [`poll_timeout`](Core::poll_timeout) (how long the reactor may
//! block), [`poll_io`](Core::poll_io) (wait for readiness, with the wait
//! hooks around it), [`advance_paused_clock`](Core::advance_paused_clock)
//! (virtual time jumps to the next timer when all is idle),
//! [`expire_timers`](Core::expire_timers) (every iteration, even when the
//! I/O poll is skipped), then the runnables that were ready when the
//! iteration began.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::callback::Callback;
use super::debug::{DebugConfig, SlowCallback, TaskInfo, TaskState};
use super::report::{ErrorHook, LoopError};
use super::runnable::{Kind, RawRunnable};
use super::shared::{Injected, Shared};
use super::task::arena::TaskArena;
use super::task::raw::{self, PollOutcome, TaskMeta, TaskRef};
use super::task::registry::Registry;
use super::task::running::RunningTask;
use super::task::state::{Activity, Notified};
use super::timer::{TimerAction, TimerKey};
use super::wait_hooks::WaitHooks;
use crate::driver::clock::{nanos, Clock};
use crate::driver::io::Reactor;
use crate::driver::timer::Timers;

/// While work stays ready, the reactor is polled at least this often when
/// timers are pending (beside every `event_interval` runnables), so that a
/// busy loop still notices I/O.
const MAX_POLL_SKIP_NS: u64 = 1_000_000;

/// Ready-queue entries kept allocated when the queue empties after a burst.
const QUEUE_KEPT: usize = 4096;

/// Settings fixed when the loop is built.
pub(crate) struct CoreConfig {
    pub(crate) paused: bool,
    pub(crate) event_interval: u32,
    pub(crate) poll_each_iteration: bool,
    pub(crate) debug: Option<DebugConfig>,
    pub(crate) exception_handler: ErrorHook,
    pub(crate) wait_hooks: Option<Arc<dyn WaitHooks>>,
}

/// Everything the loop owns. The drivers are private: the rest of the
/// crate reaches them through the narrow methods below.
pub(crate) struct Core {
    me: std::rc::Weak<Core>,
    pub(crate) id: u64,
    pub(crate) shared: Arc<Shared>,
    clock: Clock,
    /// The clock (nanoseconds on the loop's timeline) as read at the last
    /// timer check (each iteration while timers are pending): never later
    /// than the truth, so a deadline it calls passed has passed.
    cached_ns: Cell<u64>,
    /// When the reactor must be polled again even with work ready:
    /// `MAX_POLL_SKIP_NS` after the last poll (kept while timers are pending).
    poll_due_ns: Cell<u64>,
    timers: RefCell<Timers<TimerAction>>,
    /// Whether `timers` holds any (read every iteration without a borrow).
    has_timers: Cell<bool>,
    reactor: Reactor,
    queue: RefCell<VecDeque<RawRunnable>>,
    /// Every live (not yet complete) task, so that closing the loop can
    /// cancel them and `all_tasks` can list them.
    registry: RefCell<Registry>,
    /// The task being polled, its reference perhaps lent to a waker.
    running: RunningTask,
    next_task_id: Cell<u64>,
    stopping: Cell<bool>,
    /// Runnables run since the reactor was last polled.
    ran_since_poll: Cell<u32>,
    event_interval: u32,
    /// Poll every iteration while I/O sources are registered (asyncio's).
    poll_each_iteration: bool,
    debug: Option<DebugConfig>,
    exception_handler: RefCell<ErrorHook>,
    wait_hooks: RefCell<Option<Arc<dyn WaitHooks>>>,
    has_wait_hooks: Cell<bool>,
    /// Reused buffers for wakers and timer actions collected in one poll.
    wake_buf: RefCell<Vec<Waker>>,
    timer_buf: RefCell<Vec<TimerAction>>,
    /// Where task cells come from. Last, so that it drops after every
    /// field above that may hold a task.
    task_arena: TaskArena,
}

impl Core {
    /// A loop over a given reactor (another backend than epoll).
    pub(crate) fn with_reactor(
        id: u64,
        config: CoreConfig,
        reactor: Reactor,
    ) -> std::io::Result<Rc<Core>> {
        let shared = Arc::new(Shared::new(id, reactor.notifier()));
        super::shared::register(&shared);
        let clock = Clock::new(config.paused);
        let now = clock.now_ns();
        Ok(Rc::new_cyclic(|me| Core {
            me: me.clone(),
            id,
            shared,
            cached_ns: Cell::new(now),
            poll_due_ns: Cell::new(now.saturating_add(MAX_POLL_SKIP_NS)),
            timers: RefCell::new(Timers::new()),
            has_timers: Cell::new(false),
            clock,
            reactor,
            queue: RefCell::new(VecDeque::with_capacity(256)),
            registry: RefCell::new(Registry::new()),
            running: RunningTask::new(),
            next_task_id: Cell::new(1),
            stopping: Cell::new(false),
            ran_since_poll: Cell::new(0),
            event_interval: config.event_interval.max(1),
            poll_each_iteration: config.poll_each_iteration,
            debug: config.debug,
            exception_handler: RefCell::new(config.exception_handler),
            has_wait_hooks: Cell::new(config.wait_hooks.is_some()),
            wait_hooks: RefCell::new(config.wait_hooks),
            wake_buf: RefCell::new(Vec::new()),
            timer_buf: RefCell::new(Vec::new()),
            task_arena: TaskArena::new(),
        }))
    }

    /// Where this loop's task cells come from.
    pub(crate) fn task_arena(&self) -> &TaskArena {
        &self.task_arena
    }

    /// A weak handle on this loop (I/O registrations keep one, to
    /// deregister whether or not the loop is running when they go).
    pub(crate) fn weak(&self) -> std::rc::Weak<Core> {
        self.me.clone()
    }

    // ---- handles on the drivers ------------------------------------

    /// The loop's clock (virtual when paused).
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The clock on the loop's timeline: nanoseconds since its start (see
    /// `driver::clock`), what timers are filed by.
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// [`now_ns`](Self::now_ns) as of the last timer check.
    #[inline]
    pub(crate) fn cached_ns(&self) -> u64 {
        self.cached_ns.get()
    }

    /// The instant the loop's timeline starts at (its 0 ns).
    #[inline]
    pub(crate) fn clock_base(&self) -> Instant {
        self.clock.base()
    }

    /// `delay` from now: the instant, and the same on the loop's timeline
    /// (saturating some 584 years on).
    #[inline]
    pub(crate) fn deadline_in(&self, delay: Duration) -> (Instant, u64) {
        let ns = self.ns_after(delay);
        (self.instant_at(ns), ns)
    }

    /// `delay` from now on the loop's timeline (saturating).
    #[inline]
    pub(crate) fn ns_after(&self, delay: Duration) -> u64 {
        self.now_ns().saturating_add(nanos(delay))
    }

    /// `at` on the loop's timeline.
    pub(crate) fn ns_at(&self, at: Instant) -> u64 {
        self.clock.ns_at(at)
    }

    /// The instant `ns` names on the loop's timeline.
    pub(crate) fn instant_at(&self, ns: u64) -> Instant {
        self.clock.instant_at(ns)
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.clock.is_paused()
    }

    /// Moves a paused clock forward.
    pub(crate) fn advance_clock(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The I/O driver.
    pub(crate) fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    /// Files a timer due at `at_ns` on the loop's timeline.
    pub(crate) fn insert_timer(&self, at_ns: u64, action: TimerAction) -> TimerKey {
        self.has_timers.set(true);
        self.timers.borrow_mut().insert(at_ns, action)
    }

    /// Removes a pending timer; the caller drops the action (outside any
    /// borrow of the loop).
    pub(crate) fn cancel_timer(&self, key: TimerKey) -> Option<TimerAction> {
        let mut timers = self.timers.borrow_mut();
        let action = timers.cancel(key);
        self.has_timers.set(!timers.is_empty());
        action
    }

    /// Stores the waker a pending `Sleep` wants woken; `false` if the
    /// timer already fired.
    #[inline]
    pub(crate) fn set_timer_waker(&self, key: TimerKey, waker: &Waker) -> bool {
        let mut timers = self.timers.borrow_mut();
        let Some(action) = timers.action_mut(key) else {
            return false;
        };
        match action {
            TimerAction::Wake(Some(w)) if w.will_wake(waker) => {}
            action => {
                let old = std::mem::replace(action, TimerAction::Wake(Some(waker.clone())));
                drop(timers);
                drop(old);
            }
        }
        true
    }

    // ---- the ready queue -------------------------------------------

    /// Creates a task; returns the reference its `Task` handle will own.
    pub(crate) fn spawn<F: Future + 'static>(
        &self,
        future: F,
        name: Option<Cow<'static, str>>,
        location: &'static Location<'static>,
    ) -> TaskRef {
        self.spawn_with::<F, false>(future, name, location)
    }

    /// Creates a task, polled at once when `EAGER` (asyncio's eager tasks:
    /// a future ready at once completes without waiting for a turn of the
    /// loop) and no other loop runs on this thread, else queued.
    pub(crate) fn spawn_with<F: Future + 'static, const EAGER: bool>(
        &self,
        future: F,
        name: Option<Cow<'static, str>>,
        location: &'static Location<'static>,
    ) -> TaskRef {
        let id = self.next_task_id.get();
        self.next_task_id.set(id + 1);
        let meta = TaskMeta {
            loop_id: self.id,
            id,
            name,
            location,
        };
        let [handle, registered, queued] = raw::allocate(future, meta, &self.task_arena);
        let key = self.registry.borrow_mut().insert(registered);
        handle.header().set_registry_key(key);
        if EAGER {
            self.run_eager(queued);
        } else {
            self.queue.borrow_mut().push_back(RawRunnable::task(queued));
        }
        handle
    }

    /// An eager task's first poll: now, as if it had been queued and its
    /// turn had come, with this loop current (entered for the poll when
    /// none runs here); a task for a loop other than the one running here
    /// is queued. Kept out of line: `run` stays inlined in `run_once`.
    #[inline(never)]
    fn run_eager(&self, task: TaskRef) {
        match super::context::with_current(|core| std::ptr::eq(core, self)) {
            Some(true) => self.run(RawRunnable::task(task)),
            None => {
                let _enter = super::context::enter(self);
                self.run(RawRunnable::task(task));
            }
            Some(false) => self.queue.borrow_mut().push_back(RawRunnable::task(task)),
        }
    }

    /// Puts a woken task on the ready queue (loop thread; `task` is the
    /// reference the queue will own).
    pub(crate) fn schedule_local(&self, task: TaskRef) {
        if task.header().state.to_notified() == Notified::Schedule {
            self.queue.borrow_mut().push_back(RawRunnable::task(task));
        }
    }

    pub(crate) fn push_callback(&self, callback: Rc<dyn Callback>) {
        self.take_injected_first();
        self.queue.borrow_mut().push_back(callback.into_runnable());
    }

    pub(crate) fn push_raw(&self, runnable: RawRunnable) {
        self.take_injected_first();
        self.queue.borrow_mut().push_back(runnable);
    }

    /// Callbacks keep one FIFO order across threads (asyncio's single
    /// deque): what other threads sent before this push goes first.
    #[inline]
    fn take_injected_first(&self) {
        if self.shared.has_injected() {
            self.drain_injected();
        }
    }

    // ---- hooks -----------------------------------------------------

    /// Hands `error` to the exception handler (called outside any borrow,
    /// so the handler may use the loop).
    pub(crate) fn report(&self, error: &LoopError) {
        let handler = self.exception_handler.borrow().clone();
        handler(error);
    }

    pub(crate) fn debug_enabled(&self) -> bool {
        self.debug.is_some()
    }

    pub(crate) fn set_exception_handler(&self, handler: ErrorHook) {
        *self.exception_handler.borrow_mut() = handler;
    }

    pub(crate) fn set_wait_hooks(&self, hooks: Option<Arc<dyn WaitHooks>>) {
        self.has_wait_hooks.set(hooks.is_some());
        *self.wait_hooks.borrow_mut() = hooks;
    }

    pub(crate) fn stop(&self) {
        self.stopping.set(true);
    }

    /// Whether `stop()` was called (here or from another thread); clears it.
    pub(crate) fn take_stop(&self) -> bool {
        let local = self.stopping.replace(false);
        self.shared.take_stop_request() || local
    }

    // ---- one iteration ---------------------------------------------

    /// One iteration: poll for I/O (blocking only when nothing is ready,
    /// and skipped while work is ready until `event_interval` runnables ran
    /// or, with timers pending, a millisecond passed), fire due timers,
    /// then run the runnables ready at that point. `main_ready` says the
    /// `block_on` future was woken and must run.
    pub(crate) fn run_once(&self, main_ready: bool) {
        self.run_iterations_while(main_ready, || false);
    }

    /// [`run_once`](Self::run_once), then more iterations while each would
    /// only run what is queued (no timers pending, no I/O poll due, nothing
    /// from other threads, no stop) and `caller_idle()` says the caller has
    /// nothing to do between them: a task that yields, or two that hand off
    /// to each other, skip the way out of this function and back in. Every
    /// iteration still runs only what was queued when it began.
    #[inline]
    pub(crate) fn run_iterations_while(&self, main_ready: bool, caller_idle: impl Fn() -> bool) {
        let has_ready = main_ready
            || self.stopping.get()
            || self.shared.has_injected()
            || !self.queue.borrow().is_empty();
        // With timers pending, the rough clock (a few ns) says whether the
        // skip bound is reached and whether a timer could be due; only then
        // is the exact clock read (tens of ns on a virtual machine). A
        // yield with no timers pending reads no clock at all.
        let timers_pending = self.has_timers.get();
        let mut now = None;
        let mut overdue = false;
        if timers_pending {
            let rough = self.clock.rough_ns();
            overdue = rough >= self.poll_due_ns.get();
            if !overdue
                && self
                    .timers
                    .borrow()
                    .may_be_due(rough + self.clock.rough_slack_ns())
            {
                now = Some(self.clock.now_ns());
            }
        }
        if !has_ready || overdue || self.poll_due_with_work_ready() {
            let next_deadline = self.timers.borrow_mut().next_deadline();
            let came_in = self.poll_io(self.poll_timeout(has_ready, next_deadline));
            self.ran_since_poll.set(0);
            if timers_pending {
                // Read after the wait (which may have slept until a timer).
                let after = self.clock.now_ns();
                self.poll_due_ns.set(after.saturating_add(MAX_POLL_SKIP_NS));
                now = Some(after);
            }
            if !has_ready && !came_in && !self.shared.has_injected() {
                if let Some(jumped) = self.advance_paused_clock(next_deadline) {
                    now = Some(jumped);
                }
            }
        }
        if let Some(now) = now {
            self.expire_timers(now);
        }
        if self.shared.has_injected() {
            self.drain_injected();
        }
        let mut n = self.queue.borrow().len();
        loop {
            for _ in 0..n {
                let next = {
                    let mut queue = self.queue.borrow_mut();
                    let next = queue.pop_front();
                    if let Some(after) = queue.front() {
                        after.prefetch();
                    }
                    next
                };
                match next {
                    Some(runnable) => self.run(runnable),
                    None => break,
                }
            }
            self.count_ran(n);
            if n > QUEUE_KEPT {
                self.release_spare_queue();
            }
            if !self.next_iteration_only_runs_the_queue() || !caller_idle() {
                break;
            }
            n = self.queue.borrow().len();
            if n == 0 {
                break;
            }
        }
    }

    /// The ready queue's allocated room, in entries.
    #[cfg(test)]
    pub(crate) fn queue_capacity(&self) -> usize {
        self.queue.borrow().capacity()
    }

    /// After a burst (more than `QUEUE_KEPT` runnables in one batch), gives
    /// the ready queue's spare room back once it is empty: a loop that once
    /// had a million tasks ready need not keep 24 MB of queue for ever.
    #[cold]
    fn release_spare_queue(&self) {
        let mut queue = self.queue.borrow_mut();
        if queue.is_empty() {
            queue.shrink_to(QUEUE_KEPT);
        }
    }

    /// Whether the next iteration's start would do nothing but take the
    /// ready queue's length: no stop, no timers to check, no cross-thread
    /// work, no I/O poll due.
    #[inline]
    fn next_iteration_only_runs_the_queue(&self) -> bool {
        let due = self.stopping.get()
            || self.has_timers.get()
            || self.shared.has_injected()
            || self.poll_due_with_work_ready();
        !due
    }

    /// Whether the reactor must be polled although work is ready (timers
    /// aside): descriptors are registered, and `event_interval` runnables
    /// ran since the last poll or the loop polls every iteration. With no
    /// descriptor registered a poll could only report a cross-thread wake,
    /// which the loop sees without one (`has_injected`), so a loop busy
    /// with tasks alone makes no system call.
    /// (Finding no descriptor counts as the poll: the count of runnables
    /// starts afresh, so the question is asked once per interval.)
    #[inline]
    fn poll_due_with_work_ready(&self) -> bool {
        if !self.poll_each_iteration && self.ran_since_poll.get() < self.event_interval {
            return false;
        }
        if self.reactor.has_sources() {
            return true;
        }
        self.ran_since_poll.set(0);
        false
    }

    /// Counts runnables run since the last reactor poll.
    pub(crate) fn count_ran(&self, n: usize) {
        self.ran_since_poll
            .set(self.ran_since_poll.get().saturating_add(n as u32));
    }

    /// How long the reactor may block: not at all when work is ready; until
    /// the next timer; for ever when there is none. A paused clock first
    /// checks for I/O without waiting, then jumps (unless work handed to
    /// other threads is still in flight: then it waits for that).
    fn poll_timeout(&self, has_ready: bool, next_deadline: Option<u64>) -> Option<Duration> {
        match next_deadline {
            _ if has_ready => Some(Duration::ZERO),
            None => None,
            Some(_) if self.clock.is_paused() && !self.shared.has_in_flight() => {
                Some(Duration::ZERO)
            }
            Some(_) if self.clock.is_paused() => None,
            Some(deadline) => Some(Duration::from_nanos(
                deadline.saturating_sub(self.clock.now_ns()),
            )),
        }
    }

    /// Waits on the reactor (with the wait hooks around a wait that may
    /// block) and wakes the tasks whose descriptors became ready. Returns
    /// whether anything came in (a cross-thread wake, a ready descriptor).
    fn poll_io(&self, timeout: Option<Duration>) -> bool {
        let hooks = if self.has_wait_hooks.get() {
            self.wait_hooks.borrow().clone()
        } else {
            None
        };
        let blocking = timeout != Some(Duration::ZERO);
        if let (Some(hooks), true) = (&hooks, blocking) {
            hooks.before_wait(timeout);
        }
        let mut wakers = self.wake_buf.take();
        let polled = match self.reactor.poll(timeout, &mut wakers) {
            Ok(polled) => polled,
            // epoll_wait fails only on programming errors (bad fd, bad
            // buffer); say so rather than spin.
            Err(e) => panic!("corio: waiting for I/O failed: {e}"),
        };
        if let Some(hooks) = &hooks {
            // A signal can interrupt even a non-blocking poll: say so.
            if blocking || polled.interrupted {
                hooks.after_wait(polled.interrupted);
            }
        }
        if polled.notified {
            self.shared.clear_notified();
        }
        let came_in = polled.notified || !wakers.is_empty();
        for waker in wakers.drain(..) {
            waker.wake();
        }
        self.wake_buf.replace(wakers);
        came_in
    }

    /// Virtual time: when every task waits and nothing came in, jump to
    /// the next timer (never while work on other threads is in flight).
    /// Returns the clock after the jump.
    fn advance_paused_clock(&self, next_deadline: Option<u64>) -> Option<u64> {
        if !self.clock.is_paused() || self.shared.has_in_flight() {
            return None;
        }
        let deadline = next_deadline?;
        self.clock.advance_to_ns(deadline);
        Some(self.clock.now_ns())
    }

    /// Moves the timers due at `now` to the ready queue (or wakes their
    /// tasks), in exact-deadline order.
    fn expire_timers(&self, now: u64) {
        self.cached_ns.set(now);
        if !self.timers.borrow().may_be_due(now) {
            return;
        }
        let mut actions = self.timer_buf.take();
        {
            let mut timers = self.timers.borrow_mut();
            // In exact-deadline order where it matters (`TimerOrder`).
            timers.expire(now, &mut actions);
            self.has_timers.set(!timers.is_empty());
        }
        for action in actions.drain(..) {
            match action {
                TimerAction::Wake(waker) => waker.into_iter().for_each(Waker::wake),
                TimerAction::Call(callback) => self.push_callback(callback),
                TimerAction::Raw(runnable) => self.push_raw(runnable),
            }
        }
        self.timer_buf.replace(actions);
    }

    fn drain_injected(&self) {
        for item in self.shared.take_injected() {
            match item {
                Injected::Wake(task) => self.schedule_local(task.0),
                Injected::Call(f) => self.queue.borrow_mut().push_back(f.into_runnable()),
            }
        }
    }

    #[inline(always)]
    fn run(&self, runnable: RawRunnable) {
        match &self.debug {
            None => self.run_runnable(runnable),
            Some(debug) => self.run_timed(debug, runnable),
        }
    }

    /// Debug mode: runs `runnable` and reports it when it took longer than
    /// the slow-callback threshold (asyncio's `slow_callback_duration`).
    #[inline(never)]
    fn run_timed(&self, debug: &DebugConfig, runnable: RawRunnable) {
        let what = match runnable.kind() {
            Kind::Task => SlowWhat::Task(runnable.task_ref().expect("a task entry")),
            Kind::Call { .. } => SlowWhat::Callback(
                runnable
                    .call_location()
                    .expect("a callback entry knows its location"),
            ),
            Kind::Foreign | Kind::Raw => SlowWhat::Foreign,
        };
        let start = Instant::now();
        self.run_runnable(runnable);
        let duration = start.elapsed();
        if duration >= debug.slow_callback_duration {
            let what = match what {
                SlowWhat::Task(task) => format!("task {}", raw::describe(task.header())),
                SlowWhat::Callback(location) => format!("callback scheduled at {location}"),
                SlowWhat::Foreign => "callback sent from another thread".to_owned(),
            };
            #[cfg(feature = "tracing")]
            tracing::warn!(what = %what, ?duration, "slow callback");
            (debug.on_slow_callback)(&SlowCallback { what, duration });
        }
    }

    #[inline(always)]
    fn run_runnable(&self, runnable: RawRunnable) {
        match runnable.into_task() {
            Ok(task) => match self.poll_task(&task) {
                // A waker holds (and counts) the reference now.
                None => {
                    let _ = task.into_ptr();
                }
                Some(PollOutcome::Parked) => drop(task),
                Some(PollOutcome::Requeue) => {
                    self.queue.borrow_mut().push_back(RawRunnable::task(task))
                }
                Some(PollOutcome::Complete) => {
                    let key = task.header().registry_key();
                    let registered = self.registry.borrow_mut().remove(key, task.as_ptr());
                    match registered {
                        Some(registered) => task.release_with(registered),
                        None => drop(task),
                    }
                }
            },
            // Callbacks report their own panics, naming where they were
            // scheduled; this names the rest.
            Err(other) => match other.kind() {
                Kind::Foreign => {
                    self.run_guarded("callback sent from another thread", || other.run())
                }
                _ => self.run_guarded("raw runnable", || other.run()),
            },
        }
    }

    /// Polls `task`, marked as the loop's running task, so that the first
    /// waker cloned during the poll takes over the reference the poll runs
    /// on (`task/running.rs`). If one did, `task` counts again on return,
    /// except when parked: then the waker keeps the count and `task` is
    /// forgotten, and this returns `None` (nothing left to do).
    #[inline(always)]
    fn poll_task(&self, task: &TaskRef) -> Option<PollOutcome> {
        // What makes lending the poll's reference sound (running.rs): the
        // registry holds one too for as long as the poll runs. (A task
        // completed while queued is not polled, only taken off the queue.)
        debug_assert!(
            task.header().state.is_complete()
                || self
                    .registry
                    .borrow()
                    .holds(task.header().registry_key(), task.as_ptr()),
            "a task is polled while the registry holds it"
        );
        let polling = self.running.start(task.as_ptr());
        let outcome = task.poll();
        if polling.finish() {
            if let PollOutcome::Parked = outcome {
                return None;
            }
            // SAFETY: a waker took over the reference this poll ran on.
            unsafe { task.recount() };
        }
        Some(outcome)
    }

    /// Whether a waker of `task`, being cloned now, takes over the
    /// reference of its poll under way (see `task/running.rs`).
    #[inline]
    pub(crate) fn lend_poll_ref(&self, task: &raw::Header) -> bool {
        self.running.lend(task)
    }

    /// Runs a callback, reporting a panic to the exception handler instead
    /// of unwinding through the loop (asyncio logs a callback's exception
    /// and carries on).
    fn run_guarded(&self, what: impl std::fmt::Display, f: impl FnOnce()) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            self.report(&LoopError::new(format!(
                "{what} panicked: {}",
                super::task::panic_message(&*payload)
            )));
        }
    }

    /// Drops a (not running) task's future now and forgets it, completing
    /// it as cancelled.
    pub(crate) fn cancel_now(&self, task: &TaskRef) {
        task.drop_future();
        let key = task.header().registry_key();
        let registered = self.registry.borrow_mut().remove(key, task.as_ptr());
        drop(registered);
    }

    /// Lists the live tasks (asyncio's `all_tasks`).
    pub(crate) fn all_tasks(&self) -> Vec<TaskInfo> {
        self.registry
            .borrow()
            .iter()
            .map(|header| TaskInfo {
                id: header.id(),
                name: header.name().map(str::to_owned),
                location: header.location(),
                state: match header.state.activity() {
                    Activity::Running => TaskState::Running,
                    Activity::Scheduled => TaskState::Scheduled,
                    Activity::Waiting => TaskState::Waiting,
                },
            })
            .collect()
    }

    /// Closes the loop: drops every pending task's future (running its
    /// destructors; awaiters see `Cancelled`), drops queued callbacks and
    /// timers, and refuses further cross-thread work.
    pub(crate) fn shutdown(&self) {
        // Destructors may spawn or schedule more work; repeat until quiet.
        for _ in 0..1000 {
            let tasks: Vec<TaskRef> = self.registry.borrow_mut().drain();
            let queued: Vec<RawRunnable> = self.queue.borrow_mut().drain(..).collect();
            if tasks.is_empty() && queued.is_empty() {
                break;
            }
            for task in &tasks {
                task.drop_future();
            }
            drop(tasks);
            drop(queued);
        }
        let timers = std::mem::replace(&mut *self.timers.borrow_mut(), Timers::new());
        drop(timers);
        self.has_timers.set(false);
        super::shared::unregister(self.id);
        drop(self.shared.close());
    }
}

/// What a slow-callback warning names.
enum SlowWhat {
    Task(TaskRef),
    Callback(&'static Location<'static>),
    Foreign,
}
