//! Stream sockets in io_uring's completion mode (reads and writes are ring
//! requests; docs/architecture.md, "The io_uring backend"): every byte
//! arrives once and in order, written bytes outlive the stream that wrote
//! them, errors come back as errors, cancelled reads lose nothing, and
//! more waiting readers than the pool has buffers all get their bytes.
//! Each test builds an io_uring loop itself, whatever `CORIO_IO_BACKEND`
//! says.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use corio::net::{TcpListener, TcpStream};
use corio::runtime::IoBackend;
use corio::Runtime;
use futures::{AsyncReadExt, AsyncWriteExt};

fn uring() -> Runtime {
    Runtime::builder()
        .io_backend(IoBackend::IoUring)
        .build()
        .expect("io_uring loop")
}

/// Completion mode is io_uring's default; `CORIO_IO_URING_STREAMS=readiness`
/// turns it off (and these tests then check the readiness path).
fn expect_mode(stream: &TcpStream) {
    let readiness = std::env::var("CORIO_IO_URING_STREAMS").as_deref() == Ok("readiness");
    assert_eq!(stream.is_completion_based(), !readiness);
}

/// A connected pair on the running loop.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = corio::gather!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.unwrap(), accepted.unwrap().0);
    expect_mode(&client);
    expect_mode(&server);
    (client, server)
}

/// A corio stream on the running loop and its std peer (blocking, with a
/// read timeout so a lost end of stream fails instead of hanging).
async fn with_std_peer() -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    expect_mode(&stream);
    let (peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    (stream, peer)
}

/// `len` bytes of a pattern that differs per `seed` and per position.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

/// Write sizes from 1 byte to ~100 KiB (a fixed generator: reproducible).
fn sizes(mut state: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        Some(1 + (state >> 33) as usize % 100_000)
    })
}

/// Writes `data` in pieces of varying sizes, then closes the write side
/// (which sends everything first).
async fn send_all_then_close(stream: &mut (impl AsyncWriteExt + Unpin), data: &[u8], seed: u64) {
    let mut at = 0;
    for size in sizes(seed) {
        if at == data.len() {
            break;
        }
        let end = (at + size).min(data.len());
        stream.write_all(&data[at..end]).await.unwrap();
        at = end;
    }
    stream.close().await.unwrap();
}

/// Reads to the end of stream in reads of an odd size (so received chunks
/// are taken in several bites).
async fn receive_all(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 777];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn bulk_transfers_both_ways_arrive_whole_and_in_order() {
    const LEN: usize = 8 << 20;
    uring().block_on(async {
        let (client, server) = pair().await;
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let (up, down) = (pattern(1, LEN), pattern(2, LEN));
        let ((), (), got_up, got_down) = corio::gather!(
            send_all_then_close(&mut client_write, &up, 1),
            send_all_then_close(&mut server_write, &down, 2),
            receive_all(&mut server_read),
            receive_all(&mut client_read),
        );
        assert!(
            got_up == up,
            "client to server: {} of {LEN} bytes, or out of order",
            got_up.len()
        );
        assert!(
            got_down == down,
            "server to client: {} of {LEN} bytes, or out of order",
            got_down.len()
        );
    });
}

#[test]
fn bytes_written_before_a_drop_reach_the_peer_then_the_end_of_stream() {
    // More than the two socket buffers hold, so most of it is still ours
    // when the stream is dropped; the peer starts reading only later.
    const LEN: usize = 16 << 20;
    let rt = uring();
    let data = pattern(3, LEN);
    let (stream, mut peer) = rt.block_on(with_std_peer());
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let mut got = Vec::new();
        peer.read_to_end(&mut got).map(|_| got)
    });
    rt.block_on(async {
        stream.write_all(&data).await.unwrap();
        drop(stream);
        // The loop keeps running (the rest is sent as the peer reads).
        while !reader.is_finished() {
            corio::sleep(Duration::from_millis(5)).await;
        }
    });
    let got = reader
        .join()
        .unwrap()
        .expect("the end of stream, not a timeout");
    assert_eq!(got.len(), LEN);
    assert!(got == data, "bytes out of order");
}

#[test]
fn a_dropped_stream_whose_bytes_the_kernel_took_is_closed_at_once() {
    // The loop does not run after the drop: the peer still reads the end.
    let rt = uring();
    for _ in 0..20 {
        let (stream, mut peer) = rt.block_on(with_std_peer());
        rt.block_on(async {
            stream.write_all(b"bye").await.unwrap();
            drop(stream);
        });
        let mut got = Vec::new();
        peer.read_to_end(&mut got)
            .expect("end of stream while the loop is idle");
        assert_eq!(got, b"bye");
    }
}

#[test]
fn shutting_the_write_side_sends_what_was_written_first() {
    const LEN: usize = 4 << 20;
    let rt = uring();
    let data = pattern(4, LEN);
    let (mut stream, mut peer) = rt.block_on(with_std_peer());
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).map(|_| (got, peer))
    });
    rt.block_on(async {
        stream.write_all(&data).await.unwrap();
        stream.shutdown(Shutdown::Write).unwrap(); // bytes still outstanding
        let err = stream.write_all(b"late").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
        while !reader.is_finished() {
            corio::sleep(Duration::from_millis(5)).await;
        }
        // The read side still works after the write side shut.
        let (got, mut peer) = reader.join().unwrap().expect("end of stream");
        assert!(got == data, "{} of {LEN} bytes, or out of order", got.len());
        peer.write_all(b"reply").unwrap();
        drop(peer);
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"reply");
    });
}

#[test]
fn a_peer_that_resets_makes_writes_fail_instead_of_hanging() {
    uring().block_on(async {
        let (mut stream, peer) = with_std_peer().await;
        // SO_LINGER 0: closing sends a reset.
        socket2::SockRef::from(&peer)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(peer);
        let chunk = vec![0u8; 64 * 1024];
        let failed = corio::timeout(Duration::from_secs(20), async {
            loop {
                if let Err(e) = stream.write_all(&chunk).await {
                    return e;
                }
                if let Err(e) = stream.flush().await {
                    return e;
                }
            }
        })
        .await
        .expect("a write or flush fails within 20 s");
        assert!(
            matches!(
                failed.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{failed:?}"
        );
        // The error stays: later writes fail too; reads report it or EOF.
        assert!(stream.write_all(b"x").await.is_err());
        let _ = stream.read(&mut [0u8; 8]).await;
    });
}

#[test]
fn a_cancelled_read_loses_no_bytes_and_peek_keeps_them() {
    uring().block_on(async {
        let (a, b) = pair().await;
        let mut buf = [0u8; 16];
        let waited = corio::timeout(Duration::from_millis(30), a.read(&mut buf)).await;
        assert!(waited.is_err(), "nothing was sent yet");
        // The receive the cancelled read queued is still in flight; what it
        // brings is read next.
        b.write_all(b"hello").await.unwrap();
        let mut peeked = [0u8; 3];
        assert_eq!(a.peek(&mut peeked).await.unwrap(), 3);
        assert_eq!(&peeked, b"hel");
        let n = a.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        drop(b);
        assert_eq!(a.read(&mut buf).await.unwrap(), 0, "end of stream");
        assert_eq!(a.read(&mut buf).await.unwrap(), 0, "and it stays");
    });
}

#[test]
fn more_waiting_readers_than_pooled_buffers_all_get_their_bytes() {
    // The pool has 256 buffers: 400 receives completing in one wait leave
    // 144 without one (ENOBUFS); each gets a buffer of its own.
    const CONNS: usize = 400;
    uring().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        let mut servers = Vec::new();
        for i in 0..CONNS {
            let (client, accepted) = corio::gather!(TcpStream::connect(addr), listener.accept());
            clients.push(client.unwrap());
            let mut server = accepted.unwrap().0;
            servers.push(corio::spawn(async move {
                let mut got = vec![0u8; 1000];
                server.read_exact(&mut got).await.unwrap();
                assert!(
                    got == pattern(i as u8, 1000),
                    "connection {i} got another's bytes"
                );
                server.write_all(b"ok").await.unwrap();
            }));
        }
        // Every server task is parked in a read, its receive queued.
        corio::sleep(Duration::from_millis(50)).await;
        for (i, client) in clients.iter().enumerate() {
            client.write_all(&pattern(i as u8, 1000)).await.unwrap();
        }
        for server in servers {
            server.await.unwrap();
        }
        for client in &clients {
            let mut ok = [0u8; 2];
            let mut got = 0;
            while got < 2 {
                got += client.read(&mut ok[got..]).await.unwrap();
            }
            assert_eq!(&ok, b"ok");
        }
    });
}

#[test]
fn a_loop_closed_with_reads_and_writes_in_flight_releases_the_sockets() {
    let rt = uring();
    let (reading, mut quiet_peer) = rt.block_on(with_std_peer());
    let (mut writing, mut slow_peer) = rt.block_on(with_std_peer());
    rt.block_on(async {
        corio::spawn(async move {
            let _ = reading.read(&mut [0u8; 8]).await; // parks: a receive in flight
        })
        .detach();
        corio::spawn(async move {
            // More than the socket buffers hold: a send stays in flight.
            let _ = writing.write_all(&vec![7u8; 16 << 20]).await;
            let _ = writing.flush().await;
        })
        .detach();
        corio::sleep(Duration::from_millis(50)).await;
    });
    drop(rt); // cancels both requests, waits for their answers, closes
    let mut sink = Vec::new();
    quiet_peer
        .read_to_end(&mut sink)
        .expect("the reading socket was closed");
    let mut sink = Vec::new();
    match slow_peer.read_to_end(&mut sink) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e:?}"),
    }
}

#[test]
fn unix_streams_run_in_completion_mode_too() {
    const LEN: usize = 2 << 20;
    uring().block_on(async {
        let (a, b) = corio::net::UnixStream::pair().unwrap();
        let readiness = std::env::var("CORIO_IO_URING_STREAMS").as_deref() == Ok("readiness");
        assert_eq!(a.is_completion_based(), !readiness);
        let (mut a_read, mut a_write) = a.into_split();
        let (mut b_read, mut b_write) = b.into_split();
        let (there, back) = (pattern(5, LEN), pattern(6, LEN));
        let ((), (), got_there, got_back) = corio::gather!(
            send_all_then_close(&mut a_write, &there, 5),
            send_all_then_close(&mut b_write, &back, 6),
            receive_all(&mut b_read),
            receive_all(&mut a_read),
        );
        assert!(
            got_there == there && got_back == back,
            "bytes lost or out of order"
        );
    });
}

/// A connected pair: ours (non-blocking, behind a `CompletionSocket` on
/// `rt`) and the peer (blocking, 20 s read timeout). `None` on the
/// readiness path (`CORIO_IO_URING_STREAMS=readiness`).
fn borrowed_socket(
    rt: &Runtime,
) -> Option<(
    corio::io::CompletionSocket,
    std::net::TcpStream,
    std::net::TcpStream,
)> {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ours.set_nonblocking(true).unwrap();
    let (peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let Some(socket) = corio::io::CompletionSocket::on(rt, ours.as_raw_fd()).unwrap() else {
        assert_eq!(
            std::env::var("CORIO_IO_URING_STREAMS").as_deref(),
            Ok("readiness")
        );
        return None;
    };
    Some((socket, ours, peer))
}

/// `io::CompletionSocket`: a descriptor someone else owns (the Python
/// loop's transports), written while its loop is stopped, read without
/// waiting, and aborted with a peer that does not read.
#[test]
fn a_borrowed_socket_is_read_and_written_through_the_ring() {
    let rt = uring();
    let Some((socket, ours, mut peer)) = borrowed_socket(&rt) else {
        return;
    };
    // Nothing received yet: a read does not wait, it says so.
    let mut buf = [0u8; 64];
    let e = socket.try_read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    // Written with the loop stopped: sent once it runs.
    let data = pattern(3, 1 << 20);
    let mut at = 0;
    rt.block_on(async {
        while at < data.len() {
            match socket.try_write(&data[at..]) {
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::future::poll_fn(|cx| socket.poll_write_progress(cx)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
    let reader = std::thread::spawn(move || {
        let mut got = vec![0; 1 << 20];
        peer.read_exact(&mut got).unwrap();
        peer.write_all(b"thanks").unwrap();
        (got, peer)
    });
    rt.block_on(async {
        socket.flushed().await;
        assert_eq!(socket.unsent(), 0);
        socket.readable().await;
        let mut got = Vec::new();
        while got.len() < 6 {
            match socket.try_read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => socket.readable().await,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, b"thanks");
    });
    let (got, mut peer) = reader.join().unwrap();
    assert!(got == data, "the bytes arrived out of order or changed");
    // The peer stops reading; far more is written than the socket holds;
    // discarding what is unsent lets the connection end anyway.
    rt.block_on(async {
        let chunk = vec![b'z'; 1 << 16];
        for _ in 0..256 {
            if socket.try_write(&chunk).is_err() {
                break;
            }
            corio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(socket.unsent() > 0, "the peer's buffers took everything");
        socket.discard_unsent();
        corio::time::sleep(Duration::from_millis(50)).await;
        assert!(socket.send_error().is_some() || socket.unsent() == 0);
    });
    socket.close();
    assert_eq!(
        socket.try_write(b"late").unwrap_err().kind(),
        std::io::ErrorKind::NotConnected
    );
    drop(ours);
    let mut rest = Vec::new();
    // The end, or a reset; not the read timeout (a connection held open).
    if let Err(e) = peer.read_to_end(&mut rest) {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    assert!(rest.iter().all(|&b| b == b'z'));
}

#[test]
fn a_borrowed_socket_hands_received_bytes_over_where_they_lie() {
    let rt = uring();
    let Some((socket, _ours, mut peer)) = borrowed_socket(&rt) else {
        return;
    };
    let e = socket.try_read_with(100, |_| ()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    let data = pattern(7, 300_000);
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        peer.write_all(&sent).unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        peer
    });
    let got = rt.block_on(async {
        let mut got = Vec::new();
        loop {
            // At most 1,000 bytes a call, consumed as handed over.
            match socket.try_read_with(1000, |bytes| {
                assert!(bytes.len() <= 1000);
                got.extend_from_slice(bytes);
                bytes.len()
            }) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => socket.readable().await,
                Err(e) => panic!("{e}"),
            }
        }
        got
    });
    assert!(got == data, "the bytes arrived out of order or changed");
    // The end stays the end.
    assert_eq!(socket.try_read_with(1000, |b| b.len()).unwrap(), 0);
    drop(writer.join().unwrap());
    socket.close();
}
