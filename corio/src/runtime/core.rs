//! The loop's own state and one iteration of it (asyncio's `_run_once`).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use super::callback::Callback;
use super::clock::Clock;
use super::debug::{DebugConfig, SlowCallback, TaskInfo, TaskState};
use super::report::{ErrorHook, LoopError};
use super::shared::{Injected, Shared};
use crate::reactor::Reactor;
use crate::task::raw::{self, PollOutcome, TaskMeta, TaskRef, COMPLETE, RUNNING, SCHEDULED};
use crate::time::timers::{TimerAction, Timers};

/// One unit of work on the ready queue.
pub(crate) enum Runnable {
    /// Poll a task.
    Task(TaskRef),
    /// Run a `call_soon` / `call_later` callback.
    Call(Rc<dyn Callback>),
    /// Run a closure sent from another thread.
    Foreign(Box<dyn FnOnce() + Send>),
}

/// Settings fixed when the loop is built.
pub(crate) struct CoreConfig {
    pub(crate) paused: bool,
    pub(crate) event_interval: u32,
    pub(crate) debug: Option<DebugConfig>,
    pub(crate) exception_handler: ErrorHook,
}

/// Everything the loop owns; reached through the thread-local context.
pub(crate) struct Core {
    pub(crate) id: u64,
    pub(crate) shared: Arc<Shared>,
    pub(crate) clock: Clock,
    /// The clock as read at the last reactor poll: good enough to tell
    /// whether a deadline already passed, without another clock read.
    cached_now: Cell<Instant>,
    pub(crate) timers: RefCell<Timers>,
    pub(crate) reactor: Reactor,
    queue: RefCell<VecDeque<Runnable>>,
    /// Every live (not yet complete) task, so that closing the loop can
    /// cancel them and `all_tasks` can list them.
    registry: RefCell<Slab<TaskRef>>,
    next_task_id: Cell<u64>,
    stopping: Cell<bool>,
    /// Runnables run since the reactor was last polled.
    ran_since_poll: Cell<u32>,
    event_interval: u32,
    debug: Option<DebugConfig>,
    exception_handler: RefCell<ErrorHook>,
    /// Reused buffers for wakers and timer actions collected in one poll.
    wake_buf: RefCell<Vec<Waker>>,
    timer_buf: RefCell<Vec<TimerAction>>,
}

impl Core {
    pub(crate) fn new(id: u64, config: CoreConfig) -> std::io::Result<Core> {
        let (reactor, waker) = Reactor::new()?;
        let shared = Arc::new(Shared::new(id, waker));
        super::shared::register(&shared);
        let clock = Clock::new(config.paused);
        let timers = RefCell::new(Timers::new(clock.now()));
        Ok(Core {
            id,
            shared,
            cached_now: Cell::new(clock.now()),
            clock,
            timers,
            reactor,
            queue: RefCell::new(VecDeque::with_capacity(256)),
            registry: RefCell::new(Slab::new()),
            next_task_id: Cell::new(1),
            stopping: Cell::new(false),
            ran_since_poll: Cell::new(0),
            event_interval: config.event_interval.max(1),
            debug: config.debug,
            exception_handler: RefCell::new(config.exception_handler),
            wake_buf: RefCell::new(Vec::new()),
            timer_buf: RefCell::new(Vec::new()),
        })
    }

    /// Creates a task; returns the reference its `Task` handle will own.
    pub(crate) fn spawn<F: Future + 'static>(
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
        let [handle, registered, queued] = raw::allocate(future, meta);
        let header = handle.header();
        header.state.set(SCHEDULED);
        let key = self.registry.borrow_mut().insert(registered);
        header.set_registry_key(key);
        self.queue.borrow_mut().push_back(Runnable::Task(queued));
        handle
    }

    /// Puts a woken task on the ready queue (loop thread; `task` is the
    /// reference the queue will own).
    pub(crate) fn schedule_local(&self, task: TaskRef) {
        let header = task.header();
        let state = header.state.get();
        if state & (SCHEDULED | COMPLETE) != 0 {
            return;
        }
        if state & RUNNING != 0 {
            header.state.set(state | raw::NOTIFIED);
            return;
        }
        header.state.set(state | SCHEDULED);
        self.queue.borrow_mut().push_back(Runnable::Task(task));
    }

    /// The clock as of the last reactor poll (never later than the truth).
    pub(crate) fn cached_now(&self) -> Instant {
        self.cached_now.get()
    }

    pub(crate) fn push_callback(&self, callback: Rc<dyn Callback>) {
        self.queue.borrow_mut().push_back(Runnable::Call(callback));
    }

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

    pub(crate) fn stop(&self) {
        self.stopping.set(true);
    }

    /// Whether `stop()` was called (here or from another thread); clears it.
    pub(crate) fn take_stop(&self) -> bool {
        let local = self.stopping.replace(false);
        self.shared.take_stop_request() || local
    }

    /// One iteration: poll for I/O (blocking only when nothing is ready, and
    /// skipped while work is ready until `event_interval` runnables ran),
    /// fire due timers, then run the runnables ready at that point.
    /// `main_ready` says the `block_on` future was woken and must run.
    pub(crate) fn run_once(&self, main_ready: bool) {
        let has_ready = main_ready || self.shared.has_injected() || !self.queue.borrow().is_empty();
        if !has_ready || self.ran_since_poll.get() >= self.event_interval {
            self.poll_events(has_ready);
            self.ran_since_poll.set(0);
        }
        if self.shared.has_injected() {
            self.drain_injected();
        }
        let n = self.queue.borrow().len();
        for _ in 0..n {
            let next = self.queue.borrow_mut().pop_front();
            match next {
                Some(runnable) => self.run(runnable),
                None => break,
            }
        }
        self.count_ran(n);
    }

    /// Counts runnables run since the last reactor poll.
    pub(crate) fn count_ran(&self, n: usize) {
        self.ran_since_poll
            .set(self.ran_since_poll.get().saturating_add(n as u32));
    }

    /// Polls the reactor and moves due timers to the ready queue.
    fn poll_events(&self, has_ready: bool) {
        let paused = self.clock.is_paused();
        let next_deadline = self.timers.borrow_mut().next_deadline();
        let in_flight = self
            .shared
            .in_flight
            .load(std::sync::atomic::Ordering::Acquire)
            > 0;
        let timeout = match next_deadline {
            _ if has_ready => Some(Duration::ZERO),
            None => None,
            // A paused clock first checks for I/O without waiting, then jumps.
            Some(_) if paused && !in_flight => Some(Duration::ZERO),
            Some(_) if paused => None,
            Some(deadline) => Some(deadline.saturating_duration_since(self.clock.now())),
        };
        let mut wakers = self.wake_buf.take();
        match self.reactor.poll(timeout, &mut wakers) {
            Ok(notified) => {
                if notified {
                    self.shared.clear_notified();
                }
                let idle =
                    !has_ready && !notified && wakers.is_empty() && !self.shared.has_injected();
                if paused && idle && !in_flight {
                    if let Some(deadline) = next_deadline {
                        self.clock.advance_to(deadline);
                    }
                }
            }
            // epoll_wait fails only on programming errors (bad fd, bad
            // buffer); say so rather than spin.
            Err(e) => panic!("corio: epoll_wait failed: {e}"),
        }
        let mut actions = self.timer_buf.take();
        if next_deadline.is_some() {
            self.timers
                .borrow_mut()
                .expire(self.clock.now(), &mut actions);
        }
        for waker in wakers.drain(..) {
            waker.wake();
        }
        for action in actions.drain(..) {
            match action {
                TimerAction::Wake(waker) => waker.into_iter().for_each(Waker::wake),
                TimerAction::Call(callback) => self.push_callback(callback),
            }
        }
        self.wake_buf.replace(wakers);
        self.timer_buf.replace(actions);
    }

    fn drain_injected(&self) {
        for item in self.shared.take_injected() {
            match item {
                Injected::Wake(task) => self.schedule_local(task.0),
                Injected::Call(f) => self.queue.borrow_mut().push_back(Runnable::Foreign(f)),
            }
        }
    }

    fn run(&self, runnable: Runnable) {
        let start = self.debug.as_ref().map(|_| Instant::now());
        let what = match runnable {
            Runnable::Task(task) => {
                let outcome = task.poll();
                let what = start.map(|_| SlowWhat::Task(TaskRef::new_ref(task.as_ptr())));
                match outcome {
                    PollOutcome::Parked => drop(task),
                    PollOutcome::Requeue => self.queue.borrow_mut().push_back(Runnable::Task(task)),
                    PollOutcome::Complete => {
                        let key = task.header().registry_key();
                        let registered = self.registry.borrow_mut().try_remove(key);
                        match registered {
                            Some(registered) => task.release_with(registered),
                            None => drop(task),
                        }
                    }
                }
                what
            }
            Runnable::Call(callback) => {
                if !callback.is_cancelled() {
                    self.run_guarded(
                        format_args!("callback scheduled at {}", callback.location()),
                        || callback.run(),
                    );
                }
                start.map(|_| SlowWhat::Callback(callback.location()))
            }
            Runnable::Foreign(f) => {
                self.run_guarded("callback sent from another thread", f);
                start.map(|_| SlowWhat::Foreign)
            }
        };
        if let (Some(debug), Some(start), Some(what)) = (&self.debug, start, what) {
            let duration = start.elapsed();
            if duration >= debug.slow_callback_duration {
                let what = match what {
                    SlowWhat::Task(task) => format!("task {}", raw::describe(task.header())),
                    SlowWhat::Callback(location) => format!("callback scheduled at {location}"),
                    SlowWhat::Foreign => "callback sent from another thread".to_owned(),
                };
                (debug.on_slow_callback)(&SlowCallback { what, duration });
            }
        }
    }

    /// Drops a (not running) task's future now and forgets it, completing
    /// it as cancelled.
    pub(crate) fn cancel_now(&self, task: &TaskRef) {
        task.drop_future();
        let key = task.header().registry_key();
        let registered = self.registry.borrow_mut().try_remove(key);
        drop(registered);
    }

    /// Lists the live tasks (asyncio's `all_tasks`).
    pub(crate) fn all_tasks(&self) -> Vec<TaskInfo> {
        self.registry
            .borrow()
            .iter()
            .map(|(_, task)| {
                let header = task.header();
                let state = header.state.get();
                TaskInfo {
                    id: header.id,
                    name: header.name().map(str::to_owned),
                    location: header.location,
                    state: if state & RUNNING != 0 {
                        TaskState::Running
                    } else if state & SCHEDULED != 0 {
                        TaskState::Scheduled
                    } else {
                        TaskState::Waiting
                    },
                }
            })
            .collect()
    }

    /// Closes the loop: drops every pending task's future (running its
    /// destructors; awaiters see `Cancelled`), drops queued callbacks and
    /// timers, and refuses further cross-thread work.
    pub(crate) fn shutdown(&self) {
        // Destructors may spawn or schedule more work; repeat until quiet.
        for _ in 0..1000 {
            let tasks: Vec<TaskRef> = self.registry.borrow_mut().drain().collect();
            let queued: Vec<Runnable> = self.queue.borrow_mut().drain(..).collect();
            if tasks.is_empty() && queued.is_empty() {
                break;
            }
            for task in &tasks {
                task.drop_future();
            }
            drop(tasks);
            drop(queued);
        }
        let timers = std::mem::replace(
            &mut *self.timers.borrow_mut(),
            Timers::new(self.clock.now()),
        );
        drop(timers);
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

impl Core {
    /// Runs a callback, reporting a panic to the exception handler instead
    /// of unwinding through the loop (asyncio logs a callback's exception
    /// and carries on).
    fn run_guarded(&self, what: impl std::fmt::Display, f: impl FnOnce()) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            self.report(&LoopError::new(format!(
                "{what} panicked: {}",
                crate::task::panic_message(&*payload)
            )));
        }
    }
}
