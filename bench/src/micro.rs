//! In-process workloads: the same code shape on corio, tokio
//! (current_thread + LocalSet) and smol (LocalExecutor + async-io).
//! Each returns nanoseconds per operation (or milliseconds for timers).

use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::future;

/// The runtimes under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rt {
    Corio,
    Tokio,
    TokioNotify,
    Smol,
    Monoio,
}

impl Rt {
    /// The name on the command line (`sample`, `solo`).
    pub fn id(self) -> &'static str {
        match self {
            Rt::Corio => "corio",
            Rt::Tokio => "tokio",
            Rt::TokioNotify => "tokio-notify",
            Rt::Smol => "smol",
            Rt::Monoio => "monoio",
        }
    }

    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Rt::Corio => "corio",
            Rt::Tokio => "tokio",
            Rt::TokioNotify => "tokio Notify",
            Rt::Smol => "smol",
            Rt::Monoio => "monoio",
        }
    }
}

fn on_corio<F: std::future::Future>(f: F) -> F::Output {
    corio::Runtime::new().unwrap().block_on(f)
}

fn on_tokio<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

fn on_smol<F: std::future::Future>(
    f: impl FnOnce(Rc<async_executor::LocalExecutor<'static>>) -> F,
) -> F::Output {
    let ex = Rc::new(async_executor::LocalExecutor::new());
    let fut = f(ex.clone());
    async_io::block_on(ex.run(fut))
}

fn on_monoio<F: std::future::Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .enable_timer()
        .build()
        .expect("monoio io_uring runtime")
        .block_on(f)
}

/// The same hand-written yield on every runtime (wake, then `Pending`
/// once): what each runtime's scheduler costs, without its own `yield_now`
/// (tokio's defers the task behind the I/O driver by design; monoio has
/// none).
async fn hand_yield() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

fn per_op(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_nanos() as f64 / ops as f64
}

/// Spawn `n` trivial tasks, then await them all.
pub fn spawn_join(rt: Rt, n: u64) -> f64 {
    let elapsed = match rt {
        Rt::Corio => on_corio(async {
            let start = Instant::now();
            let tasks: Vec<_> = (0..n).map(|_| corio::spawn(async {})).collect();
            for t in tasks {
                t.await.unwrap();
            }
            start.elapsed()
        }),
        Rt::Tokio | Rt::TokioNotify => on_tokio(async {
            let start = Instant::now();
            let tasks: Vec<_> = (0..n).map(|_| tokio::task::spawn_local(async {})).collect();
            for t in tasks {
                t.await.unwrap();
            }
            start.elapsed()
        }),
        Rt::Smol => on_smol(|ex| async move {
            let start = Instant::now();
            let tasks: Vec<_> = (0..n).map(|_| ex.spawn(async {})).collect();
            for t in tasks {
                t.await;
            }
            start.elapsed()
        }),
        Rt::Monoio => on_monoio(async move {
            let start = Instant::now();
            let tasks: Vec<_> = (0..n).map(|_| monoio::spawn(async {})).collect();
            for t in tasks {
                t.await;
            }
            start.elapsed()
        }),
    };
    per_op(elapsed, n)
}

/// One task yielding `n` times.
pub fn yield_now(rt: Rt, n: u64) -> f64 {
    let elapsed = match rt {
        Rt::Corio => on_corio(async {
            corio::spawn(async move {
                let start = Instant::now();
                for _ in 0..n {
                    corio::yield_now().await;
                }
                start.elapsed()
            })
            .await
            .unwrap()
        }),
        Rt::Tokio | Rt::TokioNotify => on_tokio(async {
            tokio::task::spawn_local(async move {
                let start = Instant::now();
                for _ in 0..n {
                    tokio::task::yield_now().await;
                }
                start.elapsed()
            })
            .await
            .unwrap()
        }),
        Rt::Smol => on_smol(|ex| async move {
            ex.spawn(async move {
                let start = Instant::now();
                for _ in 0..n {
                    future::yield_now().await;
                }
                start.elapsed()
            })
            .await
        }),
        Rt::Monoio => on_monoio(async move {
            monoio::spawn(async move {
                let start = Instant::now();
                for _ in 0..n {
                    hand_yield().await;
                }
                start.elapsed()
            })
            .await
        }),
    };
    per_op(elapsed, n)
}

/// One task yielding `n` times through [`hand_yield`] (ns per yield).
pub fn hand_yield_row(rt: Rt, n: u64) -> f64 {
    async fn body(n: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            hand_yield().await;
        }
        start.elapsed()
    }
    let elapsed = match rt {
        Rt::Corio => on_corio(async { corio::spawn(body(n)).await.unwrap() }),
        Rt::Tokio | Rt::TokioNotify => {
            on_tokio(async { tokio::task::spawn_local(body(n)).await.unwrap() })
        }
        Rt::Smol => on_smol(|ex| async move { ex.spawn(body(n)).await }),
        Rt::Monoio => on_monoio(async move { monoio::spawn(body(n)).await }),
    };
    per_op(elapsed, n)
}

/// Two spawned tasks handing a token back and forth `n` times through
/// queues of capacity 1 (ns per hand-off). Both sides are spawned tasks on
/// every runtime: a side running as the `block_on` future would make each
/// of its wake-ups cost tokio a pass through its I/O driver.
pub fn ping_pong(rt: Rt, n: u64) -> f64 {
    let rounds = n / 2;
    let elapsed = match rt {
        Rt::Corio => on_corio(async move {
            use corio::queue::Queue;
            let (ab, ba) = (Rc::new(Queue::new(1)), Rc::new(Queue::new(1)));
            let (ab2, ba2) = (ab.clone(), ba.clone());
            let start = Instant::now();
            let pong = corio::spawn(async move {
                for _ in 0..rounds {
                    let token: u64 = ab2.get().await.unwrap();
                    ba2.put(token + 1).await.unwrap();
                }
            });
            let ping = corio::spawn(async move {
                let mut token = 0;
                for _ in 0..rounds {
                    ab.put(token).await.unwrap();
                    token = ba.get().await.unwrap();
                }
                token
            });
            assert_eq!(ping.await.unwrap(), rounds);
            pong.await.unwrap();
            start.elapsed()
        }),
        Rt::Tokio => on_tokio(async move {
            let (ab_tx, mut ab_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let (ba_tx, mut ba_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let start = Instant::now();
            let pong = tokio::task::spawn_local(async move {
                for _ in 0..rounds {
                    let token = ab_rx.recv().await.unwrap();
                    ba_tx.send(token + 1).await.unwrap();
                }
            });
            let ping = tokio::task::spawn_local(async move {
                let mut token = 0;
                for _ in 0..rounds {
                    ab_tx.send(token).await.unwrap();
                    token = ba_rx.recv().await.unwrap();
                }
                token
            });
            assert_eq!(ping.await.unwrap(), rounds);
            pong.await.unwrap();
            start.elapsed()
        }),
        Rt::TokioNotify => on_tokio(async move {
            let (ping_n, pong_n) = (
                Rc::new(tokio::sync::Notify::new()),
                Rc::new(tokio::sync::Notify::new()),
            );
            let (ping2, pong2) = (ping_n.clone(), pong_n.clone());
            let start = Instant::now();
            let pong = tokio::task::spawn_local(async move {
                for _ in 0..rounds {
                    ping2.notified().await;
                    pong2.notify_one();
                }
            });
            let ping = tokio::task::spawn_local(async move {
                for _ in 0..rounds {
                    ping_n.notify_one();
                    pong_n.notified().await;
                }
            });
            ping.await.unwrap();
            pong.await.unwrap();
            start.elapsed()
        }),
        Rt::Smol => on_smol(|ex| async move {
            let (ab_tx, ab_rx) = async_channel::bounded::<u64>(1);
            let (ba_tx, ba_rx) = async_channel::bounded::<u64>(1);
            let start = Instant::now();
            let pong = ex.spawn(async move {
                for _ in 0..rounds {
                    let token = ab_rx.recv().await.unwrap();
                    ba_tx.send(token + 1).await.unwrap();
                }
            });
            let ping = ex.spawn(async move {
                let mut token = 0;
                for _ in 0..rounds {
                    ab_tx.send(token).await.unwrap();
                    token = ba_rx.recv().await.unwrap();
                }
                token
            });
            assert_eq!(ping.await, rounds);
            pong.await;
            start.elapsed()
        }),
        Rt::Monoio => unreachable!("this workload is not run on monoio (no matching primitive)"),
    };
    per_op(elapsed, rounds * 2)
}

/// A fixed pseudo-random sequence (the same for every runtime).
fn delays(n: u64, max_ms: u64) -> Vec<Duration> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_micros(x % (max_ms * 1000 + 1))
        })
        .collect()
}

/// This thread's CPU time so far.
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime fills the timespec we pass.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `n` tasks each sleeping a random 0-50 ms, the sleep made in the task's
/// first poll (so every timer is really pending when it is set, however
/// long spawning takes): (wall time, this thread's CPU time).
fn timers_run(rt: Rt, n: u64) -> (Duration, Duration) {
    let delays = delays(n, 50);
    let cpu = thread_cpu();
    let wall = match rt {
        Rt::Corio => on_corio(async move {
            let start = Instant::now();
            let tasks: Vec<_> = delays
                .into_iter()
                .map(|d| corio::spawn(async move { corio::sleep(d).await }))
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            start.elapsed()
        }),
        Rt::Tokio | Rt::TokioNotify => on_tokio(async move {
            let start = Instant::now();
            let tasks: Vec<_> = delays
                .into_iter()
                .map(|d| tokio::task::spawn_local(async move { tokio::time::sleep(d).await }))
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            start.elapsed()
        }),
        Rt::Smol => on_smol(|ex| async move {
            let start = Instant::now();
            let tasks: Vec<_> = delays
                .into_iter()
                .map(|d| {
                    ex.spawn(async move {
                        async_io::Timer::after(d).await;
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
            start.elapsed()
        }),
        Rt::Monoio => on_monoio(async move {
            let start = Instant::now();
            let tasks: Vec<_> = delays
                .into_iter()
                .map(|d| monoio::spawn(async move { monoio::time::sleep(d).await }))
                .collect();
            for t in tasks {
                t.await;
            }
            start.elapsed()
        }),
    };
    (wall, thread_cpu() - cpu)
}

/// [`timers_run`]'s total wall time, in ms.
pub fn timers(rt: Rt, n: u64) -> f64 {
    timers_run(rt, n).0.as_secs_f64() * 1000.0
}

/// [`timers_run`]'s CPU time per timer (ns): the work of setting, firing
/// and joining, without the idle wait for the deadlines.
pub fn timers_cpu(rt: Rt, n: u64) -> f64 {
    per_op(timers_run(rt, n).1, n)
}

/// `n` timeouts whose inner future waits once (a [`hand_yield`]), so the
/// timer is really set, then completes, so it is cancelled (ns each).
pub fn timeouts_armed(rt: Rt, n: u64) -> f64 {
    let limit = Duration::from_secs(1);
    let elapsed = match rt {
        Rt::Corio => on_corio(async move {
            let start = Instant::now();
            for i in 0..n {
                let r = corio::timeout(limit, async move {
                    hand_yield().await;
                    i
                })
                .await;
                assert!(r.is_ok());
            }
            start.elapsed()
        }),
        Rt::Tokio | Rt::TokioNotify => on_tokio(async move {
            let start = Instant::now();
            for i in 0..n {
                let r = tokio::time::timeout(limit, async move {
                    hand_yield().await;
                    i
                })
                .await;
                assert!(r.is_ok());
            }
            start.elapsed()
        }),
        Rt::Smol => on_smol(|_| async move {
            use futures_lite::FutureExt;
            let start = Instant::now();
            for i in 0..n {
                let r = async move {
                    hand_yield().await;
                    Some(i)
                }
                .or(async {
                    async_io::Timer::after(limit).await;
                    None
                })
                .await;
                assert!(r.is_some());
            }
            start.elapsed()
        }),
        Rt::Monoio => on_monoio(async move {
            let start = Instant::now();
            for i in 0..n {
                let r = monoio::time::timeout(limit, async move {
                    hand_yield().await;
                    i
                })
                .await;
                assert!(r.is_ok());
            }
            start.elapsed()
        }),
    };
    per_op(elapsed, n)
}

/// `n` timeouts set around a ready future and dropped (ns each).
pub fn timeouts(rt: Rt, n: u64) -> f64 {
    let elapsed = match rt {
        Rt::Corio => on_corio(async move {
            let start = Instant::now();
            for i in 0..n {
                let r = corio::timeout(Duration::from_secs(1), async { i }).await;
                assert!(r.is_ok());
            }
            start.elapsed()
        }),
        Rt::Tokio | Rt::TokioNotify => on_tokio(async move {
            let start = Instant::now();
            for i in 0..n {
                let r = tokio::time::timeout(Duration::from_secs(1), async { i }).await;
                assert!(r.is_ok());
            }
            start.elapsed()
        }),
        Rt::Smol => on_smol(|_| async move {
            use futures_lite::FutureExt;
            let start = Instant::now();
            for i in 0..n {
                let r = async { Some(i) }
                    .or(async {
                        async_io::Timer::after(Duration::from_secs(1)).await;
                        None
                    })
                    .await;
                assert!(r.is_some());
            }
            start.elapsed()
        }),
        Rt::Monoio => on_monoio(async move {
            let start = Instant::now();
            for i in 0..n {
                let r = monoio::time::timeout(Duration::from_secs(1), async { i }).await;
                assert!(r.is_ok());
            }
            start.elapsed()
        }),
    };
    per_op(elapsed, n)
}

/// Uncontended lock + unlock (ns each).
pub fn lock(rt: Rt, n: u64) -> f64 {
    let elapsed = match rt {
        Rt::Corio => on_corio(async move {
            let m = corio::sync::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().await += 1;
            }
            start.elapsed()
        }),
        Rt::Tokio | Rt::TokioNotify => on_tokio(async move {
            let m = tokio::sync::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().await += 1;
            }
            start.elapsed()
        }),
        Rt::Smol => on_smol(|_| async move {
            let m = async_lock::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                *m.lock().await += 1;
            }
            start.elapsed()
        }),
        Rt::Monoio => unreachable!("this workload is not run on monoio (no matching primitive)"),
    };
    per_op(elapsed, n)
}

/// Uncontended semaphore acquire + release (ns each).
pub fn semaphore(rt: Rt, n: u64) -> f64 {
    let elapsed = match rt {
        Rt::Corio => on_corio(async move {
            let s = corio::sync::Semaphore::new(4);
            let start = Instant::now();
            for _ in 0..n {
                drop(s.acquire().await);
            }
            start.elapsed()
        }),
        Rt::Tokio | Rt::TokioNotify => on_tokio(async move {
            let s = tokio::sync::Semaphore::new(4);
            let start = Instant::now();
            for _ in 0..n {
                drop(s.acquire().await.unwrap());
            }
            start.elapsed()
        }),
        Rt::Smol => on_smol(|_| async move {
            let s = async_lock::Semaphore::new(4);
            let start = Instant::now();
            for _ in 0..n {
                drop(s.acquire().await);
            }
            start.elapsed()
        }),
        Rt::Monoio => unreachable!("this workload is not run on monoio (no matching primitive)"),
    };
    per_op(elapsed, n)
}

/// Put then get on an unbounded queue in one task (ns per pair).
pub fn queue(rt: Rt, n: u64) -> f64 {
    let elapsed = match rt {
        Rt::Corio => on_corio(async move {
            let q = corio::queue::Queue::new(0);
            let start = Instant::now();
            for i in 0..n {
                q.put(i).await.unwrap();
                assert_eq!(q.get().await.unwrap(), i);
            }
            start.elapsed()
        }),
        Rt::Tokio | Rt::TokioNotify => on_tokio(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let start = Instant::now();
            for i in 0..n {
                tx.send(i).unwrap();
                assert_eq!(rx.recv().await.unwrap(), i);
            }
            start.elapsed()
        }),
        Rt::Smol => on_smol(|_| async move {
            let (tx, rx) = async_channel::unbounded();
            let start = Instant::now();
            for i in 0..n {
                tx.send(i).await.unwrap();
                assert_eq!(rx.recv().await.unwrap(), i);
            }
            start.elapsed()
        }),
        Rt::Monoio => unreachable!("this workload is not run on monoio (no matching primitive)"),
    };
    per_op(elapsed, n)
}

/// `n` round trips of 64 bytes between a client and an echo server task on
/// one corio loop over loopback TCP (ns each). Used for instruction counts
/// (`solo echo`): both sides' work per round trip, no second process.
pub fn echo_in_process(n: u64) -> f64 {
    on_corio(async move {
        let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = corio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [0u8; 64];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => s.write_all(&buf[..k]).await.unwrap(),
                }
            }
        });
        let s = corio::net::TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let msg = [7u8; 64];
        let mut buf = [0u8; 64];
        let start = Instant::now();
        for _ in 0..n {
            s.write_all(&msg).await.unwrap();
            let mut got = 0;
            while got < 64 {
                got += s.read(&mut buf[got..]).await.unwrap();
            }
        }
        let elapsed = start.elapsed();
        drop(s);
        server.await.unwrap();
        per_op(elapsed, n)
    })
}
