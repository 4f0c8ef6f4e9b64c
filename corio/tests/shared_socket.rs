//! Several tasks waiting on one socket through `&self`: every one of them
//! is woken (regression: the registration kept one waker per direction,
//! and the second waiter replaced the first, which then hung).

use std::rc::Rc;
use std::time::Duration;

use corio::io::Async;
use corio::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use corio::{spawn, timeout, yield_now};

const BOUND: Duration = Duration::from_secs(5);

/// Lets every spawned task run until it parks.
async fn settle() {
    for _ in 0..4 {
        yield_now().await;
    }
}

#[corio::test]
async fn two_recv_from_on_one_udp_socket_both_wake() {
    let socket = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let socket = socket.clone();
            spawn(async move {
                let mut buf = [0u8; 16];
                socket.recv_from(&mut buf).await.unwrap().0
            })
        })
        .collect();
    settle().await;
    let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sender.send_to(b"one", addr).await.unwrap();
    sender.send_to(b"two", addr).await.unwrap();
    for w in waiters {
        assert_eq!(timeout(BOUND, w).await.expect("a waiter hung").unwrap(), 3);
    }
}

#[corio::test]
async fn two_accepts_on_one_tcp_listener_both_wake() {
    let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = listener.local_addr().unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let listener = listener.clone();
            spawn(async move { listener.accept().await.unwrap().0 })
        })
        .collect();
    settle().await;
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    for w in waiters {
        timeout(BOUND, w).await.expect("an accept hung").unwrap();
    }
}

#[corio::test]
async fn two_reads_on_one_tcp_stream_both_wake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let server = Rc::new(server);
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let server = server.clone();
            spawn(async move {
                let mut buf = [0u8; 1];
                server.read(&mut buf).await.unwrap()
            })
        })
        .collect();
    settle().await;
    client.write_all(b"a").await.unwrap();
    settle().await;
    client.write_all(b"b").await.unwrap();
    for w in waiters {
        assert_eq!(timeout(BOUND, w).await.expect("a read hung").unwrap(), 1);
    }
}

#[corio::test]
async fn two_waiters_on_unix_sockets_both_wake() {
    let dir = std::env::temp_dir().join(format!("corio-shared-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s");
    let listener = Rc::new(UnixListener::bind(&path).unwrap());
    let accepts: Vec<_> = (0..2)
        .map(|_| {
            let listener = listener.clone();
            spawn(async move { listener.accept().await.unwrap().0 })
        })
        .collect();
    let (a, b) = UnixDatagram::pair().unwrap();
    let b = Rc::new(b);
    let recvs: Vec<_> = (0..2)
        .map(|_| {
            let b = b.clone();
            spawn(async move {
                let mut buf = [0u8; 8];
                b.recv(&mut buf).await.unwrap()
            })
        })
        .collect();
    settle().await;
    let _c1 = UnixStream::connect(&path).await.unwrap();
    let _c2 = UnixStream::connect(&path).await.unwrap();
    a.send(b"x").await.unwrap();
    a.send(b"yy").await.unwrap();
    for w in accepts {
        timeout(BOUND, w)
            .await
            .expect("a unix accept hung")
            .unwrap();
    }
    let mut sizes = Vec::new();
    for w in recvs {
        sizes.push(timeout(BOUND, w).await.expect("a unix recv hung").unwrap());
    }
    sizes.sort();
    assert_eq!(sizes, [1, 2]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[corio::test]
async fn two_readable_and_read_with_waiters_on_one_async_both_wake() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    let b = Rc::new(Async::new(b).unwrap());
    let read_with = {
        let b = b.clone();
        spawn(async move {
            b.read_with(|s| {
                let mut buf = [0u8; 4];
                std::io::Read::read(&mut &*s, &mut buf)
            })
            .await
            .unwrap()
        })
    };
    // read_with finds nothing and parks; readable then parks too.
    settle().await;
    let readable = {
        let b = b.clone();
        spawn(async move { b.readable().await.unwrap() })
    };
    settle().await;
    a.write_with(|s| std::io::Write::write(&mut &*s, b"hi"))
        .await
        .unwrap();
    timeout(BOUND, readable)
        .await
        .expect("readable hung")
        .unwrap();
    assert_eq!(
        timeout(BOUND, read_with)
            .await
            .expect("read_with hung")
            .unwrap(),
        2
    );
}

#[corio::test]
async fn a_cancelled_waiter_leaves_no_stale_waker_behind() {
    let socket = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    // Many waiters come and go (cancelled by timeout); one real waiter
    // must still be woken afterwards.
    for _ in 0..100 {
        let mut buf = [0u8; 4];
        assert!(
            timeout(Duration::from_millis(1), socket.recv_from(&mut buf))
                .await
                .is_err()
        );
    }
    let waiter = {
        let socket = socket.clone();
        spawn(async move {
            let mut buf = [0u8; 4];
            socket.recv_from(&mut buf).await.unwrap().0
        })
    };
    settle().await;
    UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap()
        .send_to(b"ok", addr)
        .await
        .unwrap();
    assert_eq!(timeout(BOUND, waiter).await.expect("hung").unwrap(), 2);
}
