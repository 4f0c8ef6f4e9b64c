//! Networked workloads, each server in its own process pinned to CPU 0 and
//! loaded from a process pinned to CPU 1:
//!
//! - `tcp_echo`: 50 connections doing 64-byte ping-pong, the server reading
//!   into a 64 B buffer and into a 4 KiB one; round trips/s,
//!   p50/p99 latency, server syscalls per round trip (`perf stat -e
//!   raw_syscalls:sys_enter`) and server user CPU per round trip
//!   (`getrusage`). The load generator is the same (corio) binary for all.
//! - `http`: hyper hello-world on each runtime, loaded by `wrk`.

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::report::{median, Better, Row, UringTarget};

const CONNS: usize = 50;
const SECS: u64 = 5;
const MSG: usize = 64;
const RUNTIMES: [&str; 3] = ["corio", "tokio", "smol"];
/// tcp_echo also runs on monoio (io_uring); http does not (no hyper glue).
const TCP_RUNTIMES: [&str; 5] = ["corio", "corio-uring", "tokio", "smol", "monoio"];

/// This process's (user, system) CPU time in µs.
fn cpu_us() -> (u64, u64) {
    // SAFETY: getrusage fills the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (us(usage.ru_utime), us(usage.ru_stime))
}

/// Child role: an echo server on `rt` reading into a buffer of `args[1]`
/// bytes; prints its port, serves until every connection it saw has
/// closed, then prints its user CPU time.
pub fn tcp_server(args: &[String]) {
    crate::pin_to_cpu(0);
    let rt = args[0].as_str();
    let read_buf: usize = args.get(1).and_then(|b| b.parse().ok()).unwrap_or(MSG);
    let announce = |port: u16| {
        println!("PORT {port}");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
    };
    match rt {
        "corio" => corio::Runtime::new().unwrap().block_on(async {
            let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            announce(listener.local_addr().unwrap().port());
            let open = Rc::new(Cell::new(0usize));
            let done = Rc::new(corio::sync::Event::new());
            let (o, d) = (open.clone(), done.clone());
            let _accept = corio::spawn(async move {
                for _ in 0..CONNS {
                    let (s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    o.set(o.get() + 1);
                    let (o, d) = (o.clone(), d.clone());
                    corio::spawn(async move {
                        let mut buf = vec![0u8; read_buf];
                        while let Ok(n) = s.read(&mut buf).await {
                            if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        o.set(o.get() - 1);
                        if o.get() == 0 {
                            d.set();
                        }
                    })
                    .detach();
                }
            });
            done.wait().await;
        }),
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            tokio::task::LocalSet::new().block_on(&rt, async {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                announce(listener.local_addr().unwrap().port());
                let open = Rc::new(Cell::new(0usize));
                let done = Rc::new(tokio::sync::Notify::new());
                let (o, d) = (open.clone(), done.clone());
                tokio::task::spawn_local(async move {
                    for _ in 0..CONNS {
                        let (mut s, _) = listener.accept().await.unwrap();
                        s.set_nodelay(true).unwrap();
                        o.set(o.get() + 1);
                        let (o, d) = (o.clone(), d.clone());
                        tokio::task::spawn_local(async move {
                            let mut buf = vec![0u8; read_buf];
                            while let Ok(n) = s.read(&mut buf).await {
                                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                            o.set(o.get() - 1);
                            if o.get() == 0 {
                                d.notify_one();
                            }
                        });
                    }
                });
                done.notified().await;
            })
        }
        "monoio" => {
            let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .enable_timer()
                .build()
                .expect("monoio io_uring runtime");
            rt.block_on(async {
                use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
                let listener = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
                announce(listener.local_addr().unwrap().port());
                let open = Rc::new(Cell::new(0usize));
                let done = Rc::new(local_done::Done::default());
                let (o, d) = (open.clone(), done.clone());
                monoio::spawn(async move {
                    for _ in 0..CONNS {
                        let (mut s, _) = listener.accept().await.unwrap();
                        s.set_nodelay(true).unwrap();
                        o.set(o.get() + 1);
                        let (o, d) = (o.clone(), d.clone());
                        monoio::spawn(async move {
                            // Owned buffers (io_uring): read fills it, write_all sends its length.
                            let mut buf = Vec::with_capacity(read_buf);
                            loop {
                                let (res, b) = s.read(buf).await;
                                buf = b;
                                match res {
                                    Ok(n) if n > 0 => {}
                                    _ => break,
                                }
                                let (res, b) = s.write_all(buf).await;
                                buf = b;
                                if res.is_err() {
                                    break;
                                }
                                buf.clear();
                            }
                            o.set(o.get() - 1);
                            if o.get() == 0 {
                                d.set();
                            }
                        });
                    }
                });
                done.wait().await;
            })
        }
        _ => {
            let ex = Rc::new(async_executor::LocalExecutor::new());
            let ex2 = ex.clone();
            async_io::block_on(ex.run(async move {
                use futures_lite::{AsyncReadExt, AsyncWriteExt};
                let listener =
                    async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
                announce(listener.get_ref().local_addr().unwrap().port());
                let open = Rc::new(Cell::new(0usize));
                let done = Rc::new(async_lock::Barrier::new(2));
                let (o, d, ex3) = (open.clone(), done.clone(), ex2.clone());
                ex2.spawn(async move {
                    for _ in 0..CONNS {
                        let (mut s, _) = listener.accept().await.unwrap();
                        s.get_ref().set_nodelay(true).unwrap();
                        o.set(o.get() + 1);
                        let (o, d) = (o.clone(), d.clone());
                        ex3.spawn(async move {
                            let mut buf = vec![0u8; read_buf];
                            while let Ok(n) = s.read(&mut buf).await {
                                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                            o.set(o.get() - 1);
                            if o.get() == 0 {
                                d.wait().await;
                            }
                        })
                        .detach();
                    }
                })
                .detach();
                done.wait().await;
            }))
        }
    }
    let (user, system) = cpu_us();
    println!("USER_US {user}");
    println!("SYS_US {system}");
}

/// Child role: the load generator (corio, one thread, pinned to CPU 1):
/// `CONNS` connections doing `MSG`-byte ping-pong for `SECS` seconds.
pub fn tcp_load(args: &[String]) {
    crate::pin_to_cpu(1);
    let addr: std::net::SocketAddr = args[0].parse().unwrap();
    corio::run(async move {
        let deadline = Instant::now() + Duration::from_secs(SECS);
        let clients: Vec<_> = (0..CONNS)
            .map(|_| {
                corio::spawn(async move {
                    let s = corio::net::TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    let msg = [7u8; MSG];
                    let mut buf = [0u8; MSG];
                    let mut latencies = Vec::with_capacity(100_000);
                    while Instant::now() < deadline {
                        let start = Instant::now();
                        s.write_all(&msg).await.unwrap();
                        let mut got = 0;
                        while got < MSG {
                            got += s.read(&mut buf[got..]).await.unwrap();
                        }
                        latencies.push(start.elapsed().as_nanos() as u32);
                    }
                    latencies
                })
            })
            .collect();
        let mut all: Vec<u32> = Vec::new();
        for c in clients {
            all.extend(c.await.unwrap());
        }
        all.sort_unstable();
        let pct =
            |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
        println!(
            "ROUND_TRIPS {} P50_US {:.1} P99_US {:.1}",
            all.len(),
            pct(0.5),
            pct(0.99)
        );
    });
}

/// A runtime-neutral "all connections closed" flag for the monoio server.
mod local_done {
    use std::cell::{Cell, RefCell};
    use std::task::{Poll, Waker};

    #[derive(Default)]
    pub struct Done {
        set: Cell<bool>,
        waker: RefCell<Option<Waker>>,
    }

    impl Done {
        pub fn set(&self) {
            self.set.set(true);
            if let Some(w) = self.waker.borrow_mut().take() {
                w.wake();
            }
        }

        pub async fn wait(&self) {
            std::future::poll_fn(|cx| {
                if self.set.get() {
                    Poll::Ready(())
                } else {
                    *self.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await
        }
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Starts `exe <role> <rt> <extra>...` (under `perf stat` when available)
/// and waits for its port.
fn start_server(
    role: &str,
    rt: &str,
    extra: &[&str],
    perf: bool,
) -> (Child, u16, BufReader<std::process::ChildStdout>) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if perf {
        let mut c = Command::new("perf");
        c.args(["stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "--"])
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    // corio on its io_uring backend: the same server code, another reactor.
    if rt == "corio-uring" {
        cmd.env("CORIO_IO_BACKEND", "io_uring");
    }
    let rt = if rt == "corio-uring" { "corio" } else { rt };
    let mut child = cmd
        .args([role, rt])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .expect("server announces its port")
        .parse()
        .unwrap();
    (child, port, stdout)
}

struct TcpSample {
    rtps: f64,
    p50: f64,
    p99: f64,
    syscalls_per_rt: Option<f64>,
    user_ns_per_rt: f64,
    sys_ns_per_rt: f64,
}

fn tcp_once(rt: &str, read_buf: usize, perf: bool) -> TcpSample {
    let (server, port, mut stdout) = start_server("tcp-server", rt, &[&read_buf.to_string()], perf);
    let exe = std::env::current_exe().unwrap();
    let load = Command::new(exe)
        .args(["tcp-load", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let load = String::from_utf8_lossy(&load.stdout).to_string();
    let fields: Vec<&str> = load.split_whitespace().collect();
    let round_trips: f64 = fields[1].parse().unwrap();
    let (p50, p99): (f64, f64) = (fields[3].parse().unwrap(), fields[5].parse().unwrap());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let output = server.wait_with_output().unwrap();
    // The server's closing lines: "USER_US n" and "SYS_US n".
    let reported = |name: &str| -> f64 {
        rest.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("the server reports {name}"))
            .parse()
            .unwrap()
    };
    let (user_us, sys_us) = (reported("USER_US"), reported("SYS_US"));
    let syscalls = String::from_utf8_lossy(&output.stderr)
        .lines()
        .find(|l| l.contains("raw_syscalls:sys_enter"))
        .and_then(|l| {
            l.split(',')
                .next()
                .and_then(|n| n.trim().parse::<f64>().ok())
        });
    TcpSample {
        rtps: round_trips / SECS as f64,
        p50,
        p99,
        syscalls_per_rt: syscalls.map(|s| s / round_trips),
        user_ns_per_rt: user_us * 1000.0 / round_trips,
        sys_ns_per_rt: sys_us * 1000.0 / round_trips,
    }
}

pub fn run_tcp(runs: usize) -> Vec<Row> {
    // A 64 B read buffer costs every epoll runtime one more read per round
    // trip (the one that finds the socket drained); 4 KiB reads it at once.
    let mut rows = run_tcp_with(runs, MSG, "64 B buffer");
    rows.extend(run_tcp_with(runs, 4096, "4 KiB buffer"));
    rows
}

fn run_tcp_with(runs: usize, read_buf: usize, label: &str) -> Vec<Row> {
    let perf = have("perf");
    let mut samples: Vec<Vec<TcpSample>> = TCP_RUNTIMES.iter().map(|_| Vec::new()).collect();
    for run in 0..runs {
        let mut order: Vec<usize> = (0..TCP_RUNTIMES.len()).collect();
        order.rotate_left(run % TCP_RUNTIMES.len());
        for i in order {
            samples[i].push(tcp_once(TCP_RUNTIMES[i], read_buf, perf));
        }
    }
    let row = |name: &str,
               unit: &'static str,
               better,
               target,
               uring_target,
               f: &dyn Fn(&TcpSample) -> Option<f64>| {
        let figures: Vec<(&'static str, f64)> = TCP_RUNTIMES
            .iter()
            .zip(&samples)
            .filter_map(|(rt, s)| {
                let xs: Vec<f64> = s.iter().filter_map(f).collect();
                (!xs.is_empty()).then(|| (*rt, median(xs)))
            })
            .collect();
        Row {
            name: format!("{name}, {label}"),
            unit,
            better,
            figures,
            target,
            uring_target,
        }
    };
    eprintln!("  done: tcp_echo ({label})");
    vec![
        row(
            "tcp_echo 50x64 B",
            "round trips/s",
            Better::Higher,
            Some((1.05, "tokio")),
            Some(UringTarget::Ratio(1.3, "tokio")),
            &|s| Some(s.rtps),
        ),
        row("tcp_echo p50", "us", Better::Lower, None, None, &|s| {
            Some(s.p50)
        }),
        row("tcp_echo p99", "us", Better::Lower, None, None, &|s| {
            Some(s.p99)
        }),
        row(
            "tcp_echo syscalls",
            "per round trip",
            Better::Lower,
            Some((1.0, "tokio")),
            Some(UringTarget::AtMost(0.5)),
            &|s| s.syscalls_per_rt,
        ),
        row(
            "tcp_echo user CPU",
            "ns/round trip",
            Better::Lower,
            Some((1.0, "tokio")),
            None,
            &|s| Some(s.user_ns_per_rt),
        ),
        // Where the rest of the server's time goes: the kernel.
        row(
            "tcp_echo system CPU",
            "ns/round trip",
            Better::Lower,
            None,
            None,
            &|s| Some(s.sys_ns_per_rt),
        ),
    ]
}

/// Child role: hyper hello-world on `rt`; prints its port, serves until killed.
pub fn http_server(args: &[String]) {
    use std::convert::Infallible;

    use http_body_util::Full;
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        Ok(Response::new(Full::new(Bytes::from_static(
            b"Hello, World!",
        ))))
    }
    crate::pin_to_cpu(0);
    let announce = |port: u16| {
        println!("PORT {port}");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
    };
    match args[0].as_str() {
        "corio" => corio::Runtime::new().unwrap().block_on(async {
            let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            announce(listener.local_addr().unwrap().port());
            loop {
                let (s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                corio::spawn(async move {
                    let io = corio::hyper::HyperIo::new(s);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, hyper::service::service_fn(hello))
                        .await;
                })
                .detach();
            }
        }),
        // The serve helpers: corio's, and axum's on tokio.
        "corio-serve" => corio::Runtime::new().unwrap().block_on(async {
            let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            announce(listener.local_addr().unwrap().port());
            corio::http::serve(listener, hyper::service::service_fn(hello))
                .await
                .unwrap();
        }),
        // One loop per core, each serving the same port (SO_REUSEPORT).
        "corio-per-core" => {
            let (tx, rx) = std::sync::mpsc::channel();
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let loops = corio::runtime::per_core(cores, move |core| {
                let tx = tx.clone();
                async move {
                    let options = corio::net::BindOptions {
                        reuse_port: true,
                        ..corio::net::BindOptions::default()
                    };
                    let listener = corio::net::TcpListener::bind_with(("127.0.0.1", port), options)
                        .await
                        .unwrap();
                    tx.send(core).unwrap();
                    corio::http::serve(listener, hyper::service::service_fn(hello))
                        .await
                        .unwrap();
                }
            })
            .unwrap();
            for _ in 0..cores {
                rx.recv().unwrap();
            }
            announce(port);
            loops.join().unwrap();
        }
        "tokio-axum" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                announce(listener.local_addr().unwrap().port());
                let app = axum::Router::new()
                    .route("/", axum::routing::get(|| async { "Hello, World!" }));
                axum::serve(listener, app).await.unwrap();
            })
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            tokio::task::LocalSet::new().block_on(&rt, async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                announce(listener.local_addr().unwrap().port());
                loop {
                    let (s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    tokio::task::spawn_local(async move {
                        let io = hyper_util::rt::TokioIo::new(s);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, hyper::service::service_fn(hello))
                            .await;
                    });
                }
            })
        }
        _ => {
            let ex = Rc::new(async_executor::LocalExecutor::new());
            let ex2 = ex.clone();
            async_io::block_on(ex.run(async move {
                let listener =
                    async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
                announce(listener.get_ref().local_addr().unwrap().port());
                loop {
                    let (s, _) = listener.accept().await.unwrap();
                    s.get_ref().set_nodelay(true).unwrap();
                    ex2.spawn(async move {
                        // corio's hyper adapter is generic over futures-io streams.
                        let io = corio::hyper::HyperIo::new(s);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, hyper::service::service_fn(hello))
                            .await;
                    })
                    .detach();
                }
            }))
        }
    }
}

fn ensure_wrk() -> bool {
    if have("wrk") {
        return true;
    }
    eprintln!("  installing wrk (apt-get) for the http workload...");
    let _ = Command::new("sh")
        .arg("-c")
        .arg("apt-get update -qq && apt-get install -y -qq wrk")
        .status();
    have("wrk")
}

pub fn run_http(runs: usize) -> Vec<Row> {
    if !ensure_wrk() {
        eprintln!("  skipped: http (wrk is not available)");
        return Vec::new();
    }
    let hand: Vec<(&str, &'static str)> = RUNTIMES
        .iter()
        .chain(&["corio-uring"])
        .map(|r| (*r, *r))
        .collect();
    vec![
        http_row("http (hyper hello, wrk -c50)", &hand, runs),
        // corio::http::serve beside axum::serve on tokio (an axum Router
        // answering the same text): what the one-line helpers cost.
        http_row(
            "http via serve helpers",
            &[("corio-serve", "corio"), ("tokio-axum", "tokio")],
            runs,
        ),
    ]
}

/// One http row: `variants` are (server role, column name).
fn http_row(name: &str, variants: &[(&str, &'static str)], runs: usize) -> Row {
    let mut samples: Vec<Vec<f64>> = variants.iter().map(|_| Vec::new()).collect();
    for run in 0..runs {
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.rotate_left(run % variants.len());
        for i in order {
            let (mut server, port, _stdout) =
                start_server("http-server", variants[i].0, &[], false);
            let out = Command::new("taskset")
                .args([
                    "-c",
                    "1",
                    "wrk",
                    "-t1",
                    "-c50",
                    &format!("-d{SECS}s"),
                    &format!("http://127.0.0.1:{port}/"),
                ])
                .output()
                .unwrap();
            let _ = server.kill();
            let _ = server.wait();
            let text = String::from_utf8_lossy(&out.stdout);
            let rps = text
                .lines()
                .find_map(|l| l.strip_prefix("Requests/sec:"))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .expect("wrk reports Requests/sec");
            samples[i].push(rps);
        }
    }
    eprintln!("  done: {name}");
    let figures = variants
        .iter()
        .zip(samples)
        .map(|((_, column), s)| (*column, median(s)))
        .collect();
    Row {
        name: name.to_owned(),
        unit: "requests/s",
        better: Better::Higher,
        figures,
        target: Some((1.05, "tokio")),
        // The io_uring column is there for the hand-written server only.
        uring_target: Some(UringTarget::Ratio(1.3, "tokio")),
    }
}
