//! 10,000 concurrent connections, the client in a separate process.
//! Ignored by default (it takes 20,000 descriptors and a few seconds):
//!
//! ```sh
//! cargo test --release -p corio --test stress -- --ignored --nocapture
//! ```

use std::cell::Cell;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::stream::{open_connection, start_server};
use corio::sync::Barrier;

const CONNECTIONS: usize = 10_000;
const CLIENT_ENV: &str = "CORIO_STRESS_CLIENT_ADDR";

/// The server: counts how many connections are open at once, echoes a line
/// on each, and checks the client process (this binary, re-run) succeeded.
#[test]
#[ignore = "stress: 10,000 connections; run with --ignored"]
fn ten_thousand_concurrent_connections() {
    if std::env::var_os(CLIENT_ENV).is_some() {
        return; // we are the client process
    }
    corio::run(async {
        let open = Rc::new(Cell::new(0usize));
        let peak = Rc::new(Cell::new(0usize));
        let (o, p) = (open.clone(), peak.clone());
        let server = start_server(
            move |mut reader, writer| {
                let (open, peak) = (o.clone(), p.clone());
                async move {
                    open.set(open.get() + 1);
                    peak.set(peak.get().max(open.get()));
                    while let Ok(line) = reader.read_line().await {
                        if line.is_empty()
                            || writer.write(&line).is_err()
                            || writer.drain().await.is_err()
                        {
                            break;
                        }
                    }
                    open.set(open.get() - 1);
                }
            },
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let addr = server.local_addrs()[0].inet().unwrap();
        let started = Instant::now();
        let mut client = Command::new(std::env::current_exe().unwrap())
            .args(["stress_client", "--exact", "--ignored", "--nocapture"])
            .env(CLIENT_ENV, addr.to_string())
            .spawn()
            .expect("start the client process");
        // Wait for the client without blocking the loop.
        let status = loop {
            if let Some(status) = client.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "client did not finish in 120 s"
            );
            corio::sleep(Duration::from_millis(20)).await;
        };
        assert!(status.success(), "client process failed: {status}");
        println!(
            "server saw {} connections open at once; {:?} in all",
            peak.get(),
            started.elapsed()
        );
        assert_eq!(
            peak.get(),
            CONNECTIONS,
            "all connections were open at the same time"
        );
        server.close();
        corio::timeout(Duration::from_secs(30), server.wait_closed())
            .await
            .unwrap();
        assert_eq!(open.get(), 0);
    });
}

/// The client (run by the test above as a separate process): opens every
/// connection, waits until all are open, then sends a line on each and
/// checks the echo.
#[test]
#[ignore = "helper process of ten_thousand_concurrent_connections"]
fn stress_client() {
    let Ok(addr) = std::env::var(CLIENT_ENV) else {
        return;
    };
    corio::run(async move {
        let all_open = Rc::new(Barrier::new(CONNECTIONS));
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                let addr = addr.clone();
                let all_open = all_open.clone();
                corio::spawn(async move {
                    let (mut reader, writer) = open_connection(addr.as_str()).await.unwrap();
                    all_open.wait().await.unwrap();
                    let line = format!("connection {i}\n");
                    writer.write(line.as_bytes()).unwrap();
                    writer.drain().await.unwrap();
                    assert_eq!(reader.read_line().await.unwrap(), line.as_bytes());
                    // Hold the connection until every client got its echo.
                    all_open.wait().await.unwrap();
                })
            })
            .collect();
        let results = corio::gather_all(tasks).await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        assert_eq!(failed, 0, "{failed} connections failed");
    });
}
