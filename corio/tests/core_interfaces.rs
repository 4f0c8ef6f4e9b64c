//! The interfaces the core offers to the Python front and other embedders:
//! an explicit loop usable before it runs, exact-deadline timers expired
//! every iteration, wait hooks (with EINTR reported), level-triggered
//! watches that cope with descriptor reuse.

use std::cell::RefCell;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::io::{Interest, Watch};
use corio::runtime::WaitHooks;
use corio::Runtime;

#[test]
fn callbacks_scheduled_before_the_loop_runs_run_in_order() {
    let rt = Runtime::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    rt.call_soon(move || l.borrow_mut().push("soon 1"));
    let l = log.clone();
    let cancelled = rt.call_soon(move || l.borrow_mut().push("cancelled"));
    cancelled.cancel();
    let l = log.clone();
    rt.call_soon(move || l.borrow_mut().push("soon 2"));
    let l = log.clone();
    rt.call_later(Duration::from_millis(20), move || {
        l.borrow_mut().push("later");
        corio::stop();
    });
    let l = log.clone();
    rt.call_at(rt.now() + Duration::from_millis(10), move || {
        l.borrow_mut().push("at")
    });
    rt.run_forever();
    assert_eq!(*log.borrow(), ["soon 1", "soon 2", "at", "later"]);
    // And again between runs: a spawned task and a callback.
    let l = log.clone();
    rt.call_soon(move || l.borrow_mut().push("second run"));
    let task = rt.spawn(async { 7 });
    assert_eq!(rt.block_on(task).unwrap(), 7);
    assert_eq!(log.borrow().last(), Some(&"second run"));
}

#[test]
fn stop_before_run_forever_lets_one_iteration_run_as_asyncio_does() {
    let rt = Runtime::new().unwrap();
    let ran = Rc::new(RefCell::new(0));
    let r = ran.clone();
    rt.call_soon(move || *r.borrow_mut() += 1);
    // A callback scheduled by the first iteration runs in the second.
    let r = ran.clone();
    rt.call_soon(move || {
        let r = r.clone();
        corio::call_soon(move || *r.borrow_mut() += 100);
    });
    rt.stop();
    let started = Instant::now();
    rt.run_forever();
    assert!(started.elapsed() < Duration::from_secs(5), "did not block");
    assert_eq!(*ran.borrow(), 1, "exactly one iteration");
}

#[test]
fn timers_due_together_fire_by_exact_deadline_fifo_on_ties() {
    let rt = Runtime::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let base = rt.now() + Duration::from_millis(30);
    for (label, us) in [(1, 700), (2, 200), (3, 700), (4, 0), (5, 450)] {
        let l = log.clone();
        rt.call_at(base + Duration::from_micros(us), move || {
            l.borrow_mut().push(label)
        });
    }
    rt.call_at(base + Duration::from_millis(5), corio::stop);
    rt.run_forever();
    assert_eq!(*log.borrow(), [4, 2, 5, 1, 3]);
}

#[test]
fn due_timers_fire_while_work_stays_ready_and_the_io_poll_is_skipped() {
    // A huge event interval: the count bound never forces an I/O poll.
    let rt = Runtime::builder().event_interval(u32::MAX).build().unwrap();
    rt.block_on(async {
        let fired_at = Rc::new(RefCell::new(None));
        let f = fired_at.clone();
        let start = Instant::now();
        corio::call_later(Duration::from_millis(5), move || {
            *f.borrow_mut() = Some(start.elapsed())
        });
        // Busy for 300 ms, always ready (yielding).
        while start.elapsed() < Duration::from_millis(300) {
            corio::yield_now().await;
        }
        let fired = fired_at.borrow().expect("the timer never fired");
        assert!(
            fired < Duration::from_millis(250),
            "fired only at {fired:?}"
        );
    });
}

#[test]
fn io_is_noticed_while_work_stays_ready_with_timers_pending() {
    let rt = Runtime::builder().event_interval(u32::MAX).build().unwrap();
    rt.block_on(async {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let b = corio::io::Async::new(b).unwrap();
        let got = Rc::new(RefCell::new(None));
        let g = got.clone();
        let start = Instant::now();
        let reader = corio::spawn(async move {
            let n = b
                .read_with(|s| std::io::Read::read(&mut &*s, &mut [0u8; 8]))
                .await
                .unwrap();
            *g.borrow_mut() = Some((n, start.elapsed()));
        });
        let _pending_timer = corio::spawn(corio::sleep(Duration::from_secs(60)));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            (&a).write_all(b"x").unwrap();
            a
        });
        while start.elapsed() < Duration::from_millis(400) {
            corio::yield_now().await;
        }
        let (n, at) = got.borrow().expect("the read never completed");
        assert_eq!(n, 1);
        assert!(at < Duration::from_millis(350), "noticed only at {at:?}");
        reader.await.unwrap();
        drop(writer.join().unwrap());
    });
}

#[derive(Default)]
struct Recorder {
    before: AtomicUsize,
    after: AtomicUsize,
    interrupted: AtomicBool,
}

impl WaitHooks for Recorder {
    fn before_wait(&self, timeout: Option<Duration>) {
        assert_ne!(timeout, Some(Duration::ZERO), "only waits that may block");
        self.before.fetch_add(1, Ordering::SeqCst);
    }
    fn after_wait(&self, interrupted: bool) {
        self.after.fetch_add(1, Ordering::SeqCst);
        if interrupted {
            self.interrupted.store(true, Ordering::SeqCst);
        }
    }
}

extern "C" fn ignore_signal(_: libc::c_int) {}

#[test]
fn wait_hooks_run_around_blocking_waits_and_see_eintr() {
    // SIGUSR2 with a handler and no SA_RESTART: epoll_wait returns EINTR.
    // SAFETY: installs a handler that does nothing (async-signal-safe).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore_signal as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = 0;
        assert_eq!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
            0
        );
    }
    let hooks = Arc::new(Recorder::default());
    let rt = Runtime::builder()
        .wait_hooks(hooks.clone())
        .build()
        .unwrap();
    // SAFETY: pthread_self has no preconditions.
    let loop_thread = unsafe { libc::pthread_self() };
    let signaller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: the loop thread is alive (it joins us afterwards).
        unsafe { libc::pthread_kill(loop_thread, libc::SIGUSR2) };
    });
    rt.block_on(corio::sleep(Duration::from_millis(400)));
    signaller.join().unwrap();
    assert!(hooks.before.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        hooks.before.load(Ordering::SeqCst),
        hooks.after.load(Ordering::SeqCst),
        "balanced"
    );
    assert!(hooks.interrupted.load(Ordering::SeqCst), "EINTR reported");
}

#[test]
fn a_watch_is_level_triggered() {
    corio::run(async {
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let watch = Watch::new(b.as_raw_fd(), Interest::READABLE).unwrap();
        a.write_all(b"x").unwrap();
        // Unread data is reported at every iteration.
        for _ in 0..3 {
            corio::timeout(Duration::from_secs(5), watch.readable())
                .await
                .expect("level-triggered readiness repeats");
        }
        // Once read, it is not.
        std::io::Read::read(&mut &b, &mut [0u8; 1]).unwrap();
        corio::timeout(Duration::from_millis(50), watch.readable())
            .await
            .expect_err("nothing left to read");
        // Interest can change: writable now.
        watch
            .set_interest(Interest::READABLE.with(Interest::WRITABLE))
            .unwrap();
        corio::timeout(Duration::from_secs(5), watch.writable())
            .await
            .expect("writable");
        watch.set_interest(Interest::NONE).unwrap();
        corio::timeout(Duration::from_millis(50), watch.writable())
            .await
            .expect_err("no interest, no report");
    });
}

/// A watch on a socket whose descriptor is then closed behind the watch's
/// back and its number reused by another socket (dup2 does both at once,
/// so no other test's socket can take the number in between). Returns the
/// stale watch, the number's new socket, that socket's peer, and the first
/// socket's peer (kept open). Inside a running loop.
fn stale_watch_and_reused_number() -> (
    Watch,
    std::os::fd::OwnedFd,
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixStream,
) {
    use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
    let (a1, b1) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = b1.into_raw_fd();
    let old = Watch::new(fd, Interest::READABLE).unwrap();
    let (a2, b2) = std::os::unix::net::UnixStream::pair().unwrap();
    // SAFETY: dup2 onto the number we own (closing what it held).
    assert!(unsafe { libc::dup2(b2.as_raw_fd(), fd) } >= 0);
    drop(b2);
    // SAFETY: `fd` is ours, now naming the second socket.
    let reused = unsafe { OwnedFd::from_raw_fd(fd) };
    (old, reused, a2, a1)
}

#[test]
fn a_watch_copes_with_descriptor_reuse() {
    corio::run(async {
        let (old, reused, mut a2, _a1) = stale_watch_and_reused_number();
        let new = Watch::new(reused.as_raw_fd(), Interest::READABLE).unwrap();
        // The stale watch goes away; the new one must keep its registration.
        drop(old);
        a2.write_all(b"y").unwrap();
        corio::timeout(Duration::from_secs(5), new.readable())
            .await
            .expect("the new watch still reports");
        drop(new);
        drop(reused);
    });
}

#[test]
fn a_stale_watch_leaves_a_corio_socket_on_its_number_alone() {
    corio::run(async {
        // The number's new owner is one of corio's own (edge-triggered)
        // sockets this time.
        let (old, reused, mut a2, _a1) = stale_watch_and_reused_number();
        let stream =
            corio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(reused)).unwrap();
        // Changing or dropping the stale watch must not touch the socket's
        // registration (it did: its `epoll_ctl` named only the number).
        old.set_interest(Interest::WRITABLE).unwrap();
        drop(old);
        for round in 0..3u8 {
            // The read starts on an empty socket, so it waits for readiness.
            let mut buf = [0u8; 1];
            let (read, ()) = corio::gather!(
                corio::timeout(Duration::from_secs(5), stream.read(&mut buf)),
                async {
                    corio::sleep(Duration::from_millis(20)).await;
                    a2.write_all(&[round]).unwrap();
                }
            );
            let n = read.expect("the socket still reports readiness").unwrap();
            assert_eq!((n, buf[0]), (1, round));
        }
    });
}

#[test]
fn a_watch_registered_before_the_loop_runs() {
    let rt = Runtime::new().unwrap();
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let watch = Watch::on(&rt, b.as_raw_fd(), Interest::READABLE).unwrap();
    a.write_all(b"z").unwrap();
    rt.block_on(async {
        corio::timeout(Duration::from_secs(5), watch.readable())
            .await
            .expect("readable");
    });
}

#[test]
fn a_watch_dropped_while_the_loop_is_not_running_is_deregistered() {
    // A level-triggered registration left behind would make every wait
    // return at once (the loop would spin); count the waits.
    let hooks = Arc::new(Recorder::default());
    let rt = Runtime::builder()
        .wait_hooks(hooks.clone())
        .build()
        .unwrap();
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.write_all(b"unread").unwrap();
    let watch = Watch::on(&rt, b.as_raw_fd(), Interest::READABLE).unwrap();
    drop(watch); // the loop is not running
    rt.block_on(corio::sleep(Duration::from_millis(100)));
    let waits = hooks.before.load(Ordering::SeqCst);
    assert!(waits < 20, "{waits} waits in 100 ms: the loop spun");
}

#[test]
fn callbacks_from_other_threads_keep_fifo_order_with_local_ones() {
    // asyncio: a call_soon_threadsafe made before a call_soon runs first.
    let rt = Runtime::new().unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let l = log.clone();
    let handle = rt.handle();
    std::thread::spawn(move || {
        handle
            .call_soon_threadsafe(move || l.lock().unwrap().push("from thread"))
            .unwrap();
    })
    .join()
    .unwrap();
    let l = log.clone();
    rt.call_soon(move || l.lock().unwrap().push("local"));
    rt.run_once();
    assert_eq!(*log.lock().unwrap(), ["from thread", "local"]);
}

#[test]
fn an_eager_task_runs_to_its_first_wait_before_spawn_eager_returns() {
    let rt = Runtime::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    // Before the loop runs: the first poll happens inside spawn_eager.
    let l = log.clone();
    let ready = rt.spawn_eager(async move {
        l.borrow_mut().push("ready at once");
        1
    });
    assert!(
        ready.is_done(),
        "a future ready at once completes inside spawn_eager"
    );
    assert_eq!(*log.borrow(), ["ready at once"]);
    let l = log.clone();
    let waiting = rt.spawn_eager(async move {
        l.borrow_mut().push("before yield");
        // The loop is current during the first poll, even before it runs.
        corio::sleep(Duration::from_millis(1)).await;
        l.borrow_mut().push("after yield");
        2
    });
    assert_eq!(log.borrow().last(), Some(&"before yield"));
    assert!(!waiting.is_done());
    // Nested, from a callback the running loop runs: ahead of a callback
    // queued before it.
    let l = log.clone();
    let rt2 = Rc::new(rt);
    let rt3 = rt2.clone();
    rt2.call_soon(move || {
        let l2 = l.clone();
        corio::call_soon(move || l2.borrow_mut().push("queued callback"));
        let l3 = l.clone();
        rt3.spawn_eager(async move { l3.borrow_mut().push("nested eager") })
            .detach();
    });
    assert_eq!(rt2.block_on(ready).unwrap(), 1);
    assert_eq!(rt2.block_on(waiting).unwrap(), 2);
    rt2.block_on(corio::sleep(Duration::from_millis(5)));
    let log = log.borrow();
    let pos = |s| log.iter().position(|x| *x == s).unwrap();
    assert!(pos("nested eager") < pos("queued callback"));
    assert!(log.contains(&"after yield"));
}

#[test]
fn a_panic_in_any_kind_of_runnable_is_reported_by_kind_and_the_loop_goes_on() {
    // The ready queue holds every kind as a pointer and a vtable; each kind
    // still names itself when it panics, and what follows still runs.
    struct Boom;
    impl corio::runtime::RcRunnable for Boom {
        fn run(&self) {
            panic!("raw boom");
        }
    }
    let reports = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = reports.clone();
    let rt = Runtime::builder()
        .exception_handler(move |e| seen.lock().unwrap().push(e.message.clone()))
        .build()
        .unwrap();
    let ran = Rc::new(RefCell::new(Vec::new()));
    rt.call_soon(|| panic!("local boom"));
    let cancelled = rt.call_soon(|| panic!("cancelled callbacks never run"));
    cancelled.cancel();
    let handle = rt.handle();
    std::thread::spawn(move || {
        handle
            .call_soon_threadsafe(|| panic!("foreign boom"))
            .unwrap()
    })
    .join()
    .unwrap();
    rt.call_soon_raw(corio::runtime::RawRunnable::from_rc(Rc::new(Boom)));
    let r = ran.clone();
    rt.call_soon(move || r.borrow_mut().push("after"));
    let task = rt.spawn(async { 7 });
    rt.run_once();
    assert_eq!(*ran.borrow(), ["after"]);
    assert_eq!(rt.block_on(task).unwrap(), 7);
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 3, "{reports:?}");
    // In the order they were scheduled (asyncio's one FIFO across threads).
    assert!(
        reports[0].starts_with("callback scheduled at")
            && reports[0].contains("core_interfaces.rs"),
        "{reports:?}"
    );
    assert!(reports[0].ends_with("panicked: local boom"), "{reports:?}");
    assert!(
        reports[1].starts_with("callback sent from another thread panicked: foreign boom"),
        "{reports:?}"
    );
    assert!(
        reports[2].starts_with("raw runnable panicked: raw boom"),
        "{reports:?}"
    );
}

#[test]
fn debug_mode_names_a_slow_callback_by_where_it_was_scheduled() {
    let reports = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = reports.clone();
    let rt = Runtime::builder()
        .debug(true)
        .slow_callback_duration(Duration::from_millis(50))
        .on_slow_callback(move |slow| sink.lock().unwrap().push(slow.to_string()))
        .build()
        .unwrap();
    rt.call_soon(|| std::thread::sleep(Duration::from_millis(150)));
    rt.call_soon(|| {});
    rt.run_once();
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].contains("callback scheduled at") && reports[0].contains("core_interfaces.rs"),
        "{reports:?}"
    );
}
