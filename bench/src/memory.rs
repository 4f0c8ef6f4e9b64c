//! Resident memory per idle task and per idle TCP connection, each measured
//! in a fresh child process.

use std::process::Command;

use crate::report::{Better, Row};

const TASKS: usize = 100_000;
const CONNS: usize = 5_000;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// Runs in a child: `mem-child tasks|conns corio|tokio|smol`; prints bytes per item.
pub fn child(args: &[String]) {
    let (what, rt) = (args[0].as_str(), args[1].as_str());
    let per_item = match what {
        "tasks" => tasks(rt),
        "conns" => conns(rt),
        _ => panic!("mem-child: tasks or conns"),
    };
    println!("{per_item}");
}

fn tasks(rt: &str) -> f64 {
    // Each task parks forever on a future that is never woken.
    match rt {
        "corio" => corio::Runtime::new().unwrap().block_on(async {
            let before = rss_bytes();
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| corio::spawn(std::future::pending::<()>()))
                .collect();
            corio::yield_now().await; // every task polled once and parked
            let after = rss_bytes();
            drop(tasks);
            (after - before) as f64 / TASKS as f64
        }),
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            tokio::task::LocalSet::new().block_on(&rt, async {
                let before = rss_bytes();
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| tokio::task::spawn_local(std::future::pending::<()>()))
                    .collect();
                tokio::task::yield_now().await;
                let after = rss_bytes();
                drop(tasks);
                (after - before) as f64 / TASKS as f64
            })
        }
        _ => {
            let ex = std::rc::Rc::new(async_executor::LocalExecutor::new());
            let ex2 = ex.clone();
            async_io::block_on(ex.run(async move {
                let before = rss_bytes();
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| ex2.spawn(std::future::pending::<()>()))
                    .collect();
                futures_lite::future::yield_now().await;
                let after = rss_bytes();
                drop(tasks);
                (after - before) as f64 / TASKS as f64
            }))
        }
    }
}

fn conns(rt: &str) -> f64 {
    // A listener and CONNS client sockets connected to it; each accepted
    // connection is held by a task parked in a read.
    match rt {
        "corio" => corio::Runtime::new().unwrap().block_on(async {
            let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::with_capacity(CONNS);
            let before = rss_bytes();
            let mut tasks = Vec::new();
            for _ in 0..CONNS {
                clients.push(std::net::TcpStream::connect(addr).unwrap());
                let (s, _) = listener.accept().await.unwrap();
                tasks.push(corio::spawn(async move {
                    let mut buf = [0u8; 1];
                    let _ = s.read(&mut buf).await;
                }));
            }
            corio::yield_now().await;
            let after = rss_bytes();
            drop((clients, tasks));
            (after - before) as f64 / CONNS as f64
        }),
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            tokio::task::LocalSet::new().block_on(&rt, async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let mut clients = Vec::with_capacity(CONNS);
                let before = rss_bytes();
                let mut tasks = Vec::new();
                for _ in 0..CONNS {
                    clients.push(std::net::TcpStream::connect(addr).unwrap());
                    let (mut s, _) = listener.accept().await.unwrap();
                    tasks.push(tokio::task::spawn_local(async move {
                        use tokio::io::AsyncReadExt;
                        let mut buf = [0u8; 1];
                        let _ = s.read(&mut buf).await;
                    }));
                }
                tokio::task::yield_now().await;
                let after = rss_bytes();
                drop((clients, tasks));
                (after - before) as f64 / CONNS as f64
            })
        }
        _ => {
            let ex = std::rc::Rc::new(async_executor::LocalExecutor::new());
            let ex2 = ex.clone();
            async_io::block_on(ex.run(async move {
                let listener =
                    async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
                let addr = listener.get_ref().local_addr().unwrap();
                let mut clients = Vec::with_capacity(CONNS);
                let before = rss_bytes();
                let mut tasks = Vec::new();
                for _ in 0..CONNS {
                    clients.push(std::net::TcpStream::connect(addr).unwrap());
                    let (mut s, _) = listener.accept().await.unwrap();
                    tasks.push(ex2.spawn(async move {
                        use futures_lite::AsyncReadExt;
                        let mut buf = [0u8; 1];
                        let _ = s.read(&mut buf).await;
                    }));
                }
                futures_lite::future::yield_now().await;
                let after = rss_bytes();
                drop((clients, tasks));
                (after - before) as f64 / CONNS as f64
            }))
        }
    }
}

fn measure(what: &str, rt: &str) -> f64 {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["mem-child", what, rt])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

pub fn run() -> Vec<Row> {
    let mut rows = Vec::new();
    for (what, name, unit) in [
        ("tasks", "memory: idle task (100k)", "bytes/task"),
        ("conns", "memory: idle TCP conn (5k)", "bytes/conn"),
    ] {
        let figures = ["corio", "tokio", "smol"]
            .into_iter()
            .map(|rt| {
                (
                    rt,
                    crate::report::median((0..3).map(|_| measure(what, rt)).collect()),
                )
            })
            .collect();
        rows.push(Row {
            name: name.to_owned(),
            unit,
            better: Better::Lower,
            figures,
            target: None,
            uring_target: None,
        });
        eprintln!("  done: {name}");
    }
    rows
}
