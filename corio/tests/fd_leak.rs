//! No file descriptor leaks. `/proc/self/fd` counts the whole process, so
//! this binary holds a single test: nothing else runs beside it.

use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::Duration;

use corio::io::Async;
use corio::net::{TcpListener, TcpStream};
use corio::{spawn, LoopHandle, Runtime};
use futures::AsyncReadExt;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn no_descriptor_leaks() {
    a_handle_outliving_its_loop_holds_no_descriptor();
    corio::run(async {
        registrations_are_released().await;
        thousands_of_connections_leak_no_descriptors().await;
    });
}

/// A handle kept after its loop is gone does not keep the loop's eventfd
/// (or anything else of it) open.
fn a_handle_outliving_its_loop_holds_no_descriptor() {
    // Warm-up: lazily opened process-wide descriptors.
    drop(Runtime::new().unwrap());
    let before = open_fds();
    let handles: Vec<LoopHandle> = (0..20)
        .map(|_| {
            let rt = Runtime::new().unwrap();
            rt.handle()
        })
        .collect();
    assert_eq!(
        open_fds(),
        before,
        "descriptors of dropped loops are closed"
    );
    for handle in &handles {
        assert!(handle.is_closed());
        assert!(handle.call_soon_threadsafe(|| {}).is_err());
    }
}

async fn registrations_are_released() {
    let before = open_fds();
    for _ in 0..500 {
        let (a, b) = StdUnixStream::pair().unwrap();
        let a = Async::new(a).unwrap();
        let b = Async::new(b).unwrap();
        drop((a, b));
    }
    assert_eq!(open_fds(), before);
}

async fn thousands_of_connections_leak_no_descriptors() {
    let before = open_fds();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn(async move {
        for _ in 0..3000 {
            let (stream, _) = listener.accept().await.unwrap();
            spawn(async move {
                let mut buf = [0u8; 8];
                let n = stream.read(&mut buf).await.unwrap();
                stream.write_all(&buf[..n]).await.unwrap();
            })
            .detach();
        }
    });
    for batch in 0..30 {
        let clients: Vec<_> = (0..100)
            .map(|i| {
                spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let msg = [(batch * 100 + i) as u8; 8];
                    stream.write_all(&msg).await.unwrap();
                    let mut buf = [0u8; 8];
                    stream.read_exact(&mut buf).await.unwrap();
                    assert_eq!(buf, msg);
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
    }
    server.await.unwrap(); // the listener is dropped with the server task
                           // Server-side handlers close their sockets as they finish.
    for _ in 0..500 {
        if open_fds() == before {
            break;
        }
        corio::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        open_fds(),
        before,
        "every socket of 3,000 connections was closed"
    );
}
