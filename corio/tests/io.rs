//! The reactor through `corio::io::Async`: real pipes and Unix sockets.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use corio::io::Async;
use corio::{spawn, timeout};
use futures::{AsyncReadExt, AsyncWriteExt};

#[corio::test]
async fn unix_socket_round_trip_through_the_reactor() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut a = Async::new(a).unwrap();
    let mut b = Async::new(b).unwrap();
    let reader = spawn(async move {
        let mut buf = vec![0u8; 5];
        b.read_exact(&mut buf).await.unwrap(); // parks until the writer writes
        b.write_all(b"pong!").await.unwrap();
        buf
    });
    corio::sleep(Duration::from_millis(5)).await;
    a.write_all(b"ping!").await.unwrap();
    let mut reply = [0u8; 5];
    a.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reader.await.unwrap(), b"ping!");
    assert_eq!(&reply, b"pong!");
}

#[corio::test]
async fn a_large_transfer_with_backpressure_loses_nothing() {
    // 8 MiB through a socket pair whose buffer is far smaller: the writer
    // must park on write readiness many times (edge-triggered wakes).
    const LEN: usize = 8 << 20;
    let (a, b) = UnixStream::pair().unwrap();
    let mut a = Async::new(a).unwrap();
    let mut b = Async::new(b).unwrap();
    let writer = spawn(async move {
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        a.write_all(&data).await.unwrap();
        drop(a); // EOF
    });
    let mut received = Vec::new();
    b.read_to_end(&mut received).await.unwrap();
    writer.await.unwrap();
    assert_eq!(received.len(), LEN);
    assert!(received
        .iter()
        .enumerate()
        .all(|(i, &byte)| byte == (i % 251) as u8));
}

#[corio::test]
async fn data_from_another_thread_wakes_the_reader() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let a = Async::new(a).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        b.write_all(b"hello").unwrap();
        let mut back = [0u8; 2];
        b.read_exact(&mut back).unwrap();
        back
    });
    let mut buf = [0u8; 5];
    let n = timeout(
        Duration::from_secs(10),
        a.read_with(|mut s| s.read(&mut buf)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&buf[..n], &b"hello"[..n]);
    a.write_with(|mut s| s.write(b"ok")).await.unwrap();
    assert_eq!(&writer.join().unwrap(), b"ok");
}

#[corio::test]
async fn peer_close_reads_as_eof() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut a = Async::new(a).unwrap();
    drop(b);
    let mut buf = [0u8; 8];
    assert_eq!(a.read(&mut buf).await.unwrap(), 0);
}

#[corio::test]
async fn a_cancelled_read_leaves_the_registration_usable() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut a = Async::new(a).unwrap();
    let mut buf = [0u8; 4];
    assert!(timeout(Duration::from_millis(10), a.read(&mut buf))
        .await
        .is_err());
    b.write_all(b"late").unwrap();
    a.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"late");
}
