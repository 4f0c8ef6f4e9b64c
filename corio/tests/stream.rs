//! asyncio streams on real loopback sockets.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::stream::{
    open_connection, open_unix_connection, start_server, start_unix_server, Server, StreamError,
    StreamReader, StreamWriter, DEFAULT_LIMIT,
};
use corio::sync::Event;
use corio::{spawn, timeout};
use futures::AsyncBufReadExt;

/// An echo server: lines back until EOF.
mod common;
use common::raise_fd_limit;

/// A server running `handler` on a free loopback port, and one client
/// connection to it (the server closes when dropped: keep it alive).
async fn server_and_client<F, Fut>(handler: F) -> (Server, StreamReader, StreamWriter)
where
    F: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let server = start_server(handler, "127.0.0.1:0").await.unwrap();
    let (reader, writer) = open_connection(server.local_addrs()[0].inet().unwrap())
        .await
        .unwrap();
    (server, reader, writer)
}

async fn echo_lines(mut reader: StreamReader, writer: StreamWriter) {
    loop {
        match reader.read_line().await {
            Ok(line) if line.is_empty() => break,
            Ok(line) => {
                if writer.write(&line).is_err() || writer.drain().await.is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
}

#[corio::test]
async fn echo_server_with_1000_concurrent_clients_100_messages_each() {
    raise_fd_limit();
    let server = start_server(echo_lines, "127.0.0.1:0").await.unwrap();
    let addr = server.local_addrs()[0].inet().unwrap();
    let started = Instant::now();
    let clients: Vec<_> = (0..1000u32)
        .map(|c| {
            spawn(async move {
                let (mut reader, writer) = open_connection(addr).await.unwrap();
                for m in 0..100u32 {
                    let line =
                        format!("client {c} message {m} {}\n", "x".repeat((c % 50) as usize));
                    writer.write(line.as_bytes()).unwrap();
                    writer.drain().await.unwrap();
                    let echoed = reader.read_line().await.unwrap();
                    assert_eq!(echoed, line.as_bytes(), "every byte comes back");
                }
                writer.write_eof().unwrap();
                assert!(
                    reader.read_line().await.unwrap().is_empty(),
                    "server closes after our EOF"
                );
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    eprintln!("1000 clients x 100 round trips in {:?}", started.elapsed());
    server.close();
    timeout(Duration::from_secs(30), server.wait_closed())
        .await
        .unwrap();
}

#[corio::test]
async fn a_64_mib_transfer_with_backpressure_keeps_memory_bounded() {
    const TOTAL: usize = 64 << 20;
    const CHUNK: usize = 64 << 10;
    let received = Rc::new(Cell::new(0usize));
    let r = received.clone();
    let server = start_server(
        move |mut reader, _writer| {
            let r = r.clone();
            async move {
                let mut offset = 0usize;
                loop {
                    let data = reader.read(256 << 10).await.unwrap();
                    if data.is_empty() {
                        break;
                    }
                    for (i, &b) in data.iter().enumerate() {
                        assert_eq!(
                            b,
                            ((offset + i) % 251) as u8,
                            "byte {} corrupted",
                            offset + i
                        );
                    }
                    offset += data.len();
                    if offset < (1 << 20) {
                        corio::sleep(Duration::from_millis(1)).await; // a slow start: backpressure builds
                    }
                }
                r.set(offset);
            }
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let addr = server.local_addrs()[0].inet().unwrap();
    let (_reader, writer) = open_connection(addr).await.unwrap();
    let pattern: Vec<u8> = (0..CHUNK + 251).map(|i| (i % 251) as u8).collect();
    let mut max_buffered = 0;
    let mut sent = 0;
    while sent < TOTAL {
        let start = sent % 251;
        writer.write(&pattern[start..start + CHUNK]).unwrap();
        sent += CHUNK;
        max_buffered = max_buffered.max(writer.buffer_size());
        writer.drain().await.unwrap();
        assert!(
            writer.buffer_size() <= 64 << 10,
            "drain returns at or below the high-water mark"
        );
    }
    writer.close();
    writer.wait_closed().await.unwrap();
    server.close();
    server.wait_closed().await;
    assert_eq!(received.get(), TOTAL);
    assert!(
        max_buffered <= (64 << 10) + CHUNK,
        "writer buffered {max_buffered} bytes at most"
    );
    eprintln!("max writer buffer: {max_buffered} bytes for a {TOTAL}-byte transfer");
}

#[corio::test]
async fn write_eof_then_read_to_end() {
    let (_server, mut reader, writer) = server_and_client(|mut reader, writer| async move {
        let request = reader.read_to_end().await.unwrap(); // until our EOF
        assert!(reader.at_eof());
        writer.write(&request).unwrap();
        writer.write(b" (done)").unwrap();
        writer.close();
        writer.wait_closed().await.unwrap();
    })
    .await;
    writer.write(b"half").unwrap();
    writer.write_eof().unwrap();
    assert!(
        writer.write(b"more").is_err(),
        "writing after EOF is an error, not a silent drop"
    );
    assert_eq!(reader.read_to_end().await.unwrap(), b"half (done)");
    assert!(reader.at_eof());
}

#[corio::test]
async fn a_line_over_the_limit_is_limit_overrun_and_the_stream_stays_usable() {
    let (_server, mut reader, _writer) = server_and_client(|_reader, writer| async move {
        writer.write(&[b'a'; 3000]).unwrap();
        writer.write(b"\nok\n").unwrap();
        writer.drain().await.unwrap();
    })
    .await;
    reader.set_limit(1024);
    match reader.read_line().await {
        Err(StreamError::LimitOverrun { .. }) => {}
        other => panic!("expected LimitOverrun, got {other:?}"),
    }
    // The data stays readable: raise the limit and read the long line.
    reader.set_limit(4096);
    let long = reader.read_line().await.unwrap();
    assert_eq!(long.len(), 3001);
    assert_eq!(reader.read_line().await.unwrap(), b"ok\n");
}

#[corio::test]
async fn cancelling_read_line_midway_loses_no_bytes() {
    let go_on = Rc::new(Event::new());
    let g = go_on.clone();
    let (_server, mut reader, _writer) = server_and_client(move |_reader, writer| {
        let g = g.clone();
        async move {
            writer.write(b"hel").unwrap();
            writer.drain().await.unwrap();
            g.wait().await; // until the client's read_line was cancelled
            writer.write(b"lo\nworld\n").unwrap();
            writer.drain().await.unwrap();
        }
    })
    .await;
    for _ in 0..100 {
        let attempt = timeout(Duration::from_millis(20), reader.read_line()).await;
        assert!(attempt.is_err(), "no newline has been sent yet");
        if !reader.buffer().is_empty() {
            break;
        }
    }
    assert_eq!(
        reader.buffer(),
        b"hel",
        "the partial line is buffered, not lost"
    );
    go_on.set();
    assert_eq!(reader.read_line().await.unwrap(), b"hello\n");
    assert_eq!(reader.read_line().await.unwrap(), b"world\n");
}

#[corio::test]
async fn read_exact_and_read_until_at_eof_give_incomplete_read() {
    let (_server, mut reader, _writer) = server_and_client(|_reader, writer| async move {
        writer.write(b"abc--def--tail").unwrap();
        writer.close();
    })
    .await;
    assert_eq!(reader.read_until(b"--").await.unwrap(), b"abc--");
    assert_eq!(reader.read_exact(3).await.unwrap(), b"def");
    assert_eq!(reader.read_until(b"--").await.unwrap(), b"--");
    match reader.read_exact(10).await {
        Err(StreamError::IncompleteRead {
            partial,
            expected: Some(10),
        }) => assert_eq!(partial, b"tail"),
        other => panic!("expected IncompleteRead, got {other:?}"),
    }
    assert!(reader.at_eof());
    match reader.read_until(b"--").await {
        Err(StreamError::IncompleteRead {
            partial,
            expected: None,
        }) => assert!(partial.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(reader.read(100).await.unwrap(), b"");
}

#[corio::test]
async fn stream_reader_works_with_futures_io_traits() {
    let (_server, reader, _writer) = server_and_client(|_reader, writer| async move {
        writer.write(b"one\ntwo\nthree\n").unwrap();
        writer.close();
    })
    .await;
    use futures::StreamExt;
    let lines: Vec<String> = reader.lines().map(Result::unwrap).collect().await;
    assert_eq!(lines, vec!["one", "two", "three"]);
}

#[corio::test]
async fn writing_to_a_reset_peer_reports_the_error() {
    let server = start_server(
        |_reader, writer| async move {
            // Close at once with RST: the peer's writes then fail.
            drop(writer);
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let (mut reader, writer) = open_connection(server.local_addrs()[0].inet().unwrap())
        .await
        .unwrap();
    assert!(
        reader.read_line().await.unwrap().is_empty(),
        "server closed"
    );
    let mut failed = None;
    for _ in 0..1000 {
        let result = match writer.write(&[0u8; 64 << 10]) {
            Ok(()) => writer.drain().await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            failed = Some(e);
            break;
        }
        corio::sleep(Duration::from_millis(1)).await;
    }
    let err = failed.expect("writes to a closed peer fail");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "{err:?}"
    );
}

#[corio::test]
async fn graceful_server_shutdown_waits_for_handlers() {
    let server = start_server(
        |mut reader, writer| async move {
            let line = reader.read_line().await.unwrap();
            corio::sleep(Duration::from_millis(50)).await; // still working when close() comes
            writer.write(&line).unwrap();
            writer.close();
            writer.wait_closed().await.unwrap();
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let addr = server.local_addrs()[0].inet().unwrap();
    let (mut reader, writer) = open_connection(addr).await.unwrap();
    writer.write(b"in flight\n").unwrap();
    while server.connections() == 0 {
        corio::sleep(Duration::from_millis(1)).await;
    }
    server.close();
    assert!(!server.is_serving());
    let refused = open_connection(addr).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused,
        "no longer accepting"
    );
    server.wait_closed().await; // waits for the handler
    assert_eq!(server.connections(), 0);
    assert_eq!(
        reader.read_line().await.unwrap(),
        b"in flight\n",
        "the handler finished its reply"
    );
}

#[corio::test]
async fn serve_forever_until_closed_and_abort_clients() {
    let server = Rc::new(
        start_server(
            |mut reader, _writer| async move {
                let _ = reader.read_to_end().await; // waits forever for EOF
            },
            "127.0.0.1:0",
        )
        .await
        .unwrap(),
    );
    let addr = server.local_addrs()[0].inet().unwrap();
    let s = server.clone();
    let serving = spawn(async move { s.serve_forever().await });
    let (_r, _w) = open_connection(addr).await.unwrap();
    while server.connections() == 0 {
        corio::sleep(Duration::from_millis(1)).await;
    }
    serving.cancel(); // cancelling serve_forever closes the server (asyncio)
    let _ = serving.await;
    assert!(!server.is_serving());
    server.abort_clients();
    timeout(Duration::from_secs(10), server.wait_closed())
        .await
        .unwrap();
}

#[corio::test]
async fn unix_streams_round_trip() {
    let dir = std::env::temp_dir().join(format!("corio-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let server = start_unix_server(echo_lines, &path).await.unwrap();
    let (mut reader, writer) = open_unix_connection(&path).await.unwrap();
    for i in 0..10 {
        let line = format!("unix line {i}\n");
        writer.write(line.as_bytes()).unwrap();
        assert_eq!(reader.read_line().await.unwrap(), line.as_bytes());
    }
    server.close();
    assert!(!path.exists(), "the socket file is removed on close");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[corio::test]
async fn writer_reports_peer_and_local_addresses() {
    let server = start_server(|_r, _w| async {}, "127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addrs()[0].inet().unwrap();
    let (_reader, writer) = open_connection(addr).await.unwrap();
    assert_eq!(writer.peer_addr().and_then(|a| a.inet()), Some(addr));
    assert!(writer
        .local_addr()
        .and_then(|a| a.inet())
        .unwrap()
        .ip()
        .is_loopback());
}

#[corio::test]
async fn read_line_overruns_at_the_limit_itself_not_twice_it() {
    // Default 64 KiB limit; the peer sends 256 KiB with no newline and
    // keeps the connection open: the overrun is reported at the limit
    // (asyncio's rule), having buffered no more than the limit and a byte.
    let hold = Rc::new(Event::new());
    let h = hold.clone();
    let (_server, mut reader, _writer) = server_and_client(move |_reader, writer| {
        let h = h.clone();
        async move {
            writer.write(&vec![b'a'; 4 * DEFAULT_LIMIT]).unwrap();
            writer.drain().await.unwrap();
            h.wait().await;
        }
    })
    .await;
    assert_eq!(reader.limit(), DEFAULT_LIMIT);
    match timeout(Duration::from_secs(5), reader.read_line()).await {
        Ok(Err(StreamError::LimitOverrun { consumed })) => {
            assert!(consumed <= DEFAULT_LIMIT + 1, "reported at {consumed}")
        }
        other => panic!("expected LimitOverrun at the limit, got {other:?}"),
    }
    assert!(
        reader.buffer().len() <= DEFAULT_LIMIT + 1,
        "{}",
        reader.buffer().len()
    );
    hold.set();
}

#[corio::test]
async fn a_line_of_exactly_the_limit_and_a_separator_straddling_it_are_accepted() {
    let (_server, mut reader, _writer) = server_and_client(|_reader, writer| async move {
        writer.write(&[b'a'; 100]).unwrap();
        writer.write(b"\n").unwrap();
        // A two-byte separator starting exactly at the limit, its second
        // byte arriving later: asyncio waits for it and accepts the line.
        writer.write(&[b'b'; 101]).unwrap();
        writer.drain().await.unwrap();
        corio::sleep(Duration::from_millis(50)).await;
        writer.write(b"\n").unwrap();
        writer.drain().await.unwrap();
    })
    .await;
    reader.set_limit(100);
    assert_eq!(reader.read_line().await.unwrap().len(), 101);
    let line = reader.read_until(b"b\n").await.unwrap();
    assert_eq!(line.len(), 102);
}

/// A server whose handler writes `bytes` to a client that never reads, then
/// drops its writer; and that client.
async fn writer_dropped_on_a_silent_peer(linger: Duration) -> (Server, corio::net::TcpStream) {
    let server = corio::stream::start_server_with(
        |_reader, writer| async move {
            writer.write(&vec![7u8; 16 << 20]).unwrap();
            // Dropped here, with megabytes the peer will never read.
        },
        "127.0.0.1:0",
        corio::stream::ServerOptions::default().linger(linger),
    )
    .await
    .unwrap();
    let client = corio::net::TcpStream::connect(server.local_addrs()[0].inet().unwrap())
        .await
        .unwrap();
    (server, client)
}

async fn wait_for_connections(server: &Server, n: usize, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while server.connections() != n && Instant::now() < deadline {
        corio::sleep(Duration::from_millis(10)).await;
    }
    server.connections() == n
}

#[corio::test]
async fn a_dropped_writer_to_a_peer_that_never_reads_is_aborted_after_the_linger_time() {
    let (server, client) = writer_dropped_on_a_silent_peer(Duration::from_millis(300)).await;
    // The handler returned at once, but its connection still counts.
    assert!(wait_for_connections(&server, 1, Duration::from_secs(5)).await);
    corio::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.connections(), 1, "a lingering writer is visible");
    // After the linger time the connection is aborted and released.
    assert!(
        wait_for_connections(&server, 0, Duration::from_secs(5)).await,
        "the lingering connection was never released"
    );
    // The client reads what got through, then the end of the stream.
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0usize;
    loop {
        match timeout(Duration::from_secs(5), client.read(&mut buf))
            .await
            .expect("the client was left hanging")
        {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert!(
        total < 16 << 20,
        "the peer never read, so not all got through"
    );
    server.close();
    timeout(Duration::from_secs(5), server.wait_closed())
        .await
        .expect("wait_closed");
}

#[corio::test]
async fn abort_clients_reaches_a_lingering_writer() {
    let (server, client) = writer_dropped_on_a_silent_peer(Duration::from_secs(600)).await;
    assert!(wait_for_connections(&server, 1, Duration::from_secs(5)).await);
    corio::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.connections(), 1);
    server.abort_clients();
    assert!(wait_for_connections(&server, 0, Duration::from_secs(5)).await);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match timeout(Duration::from_secs(5), client.read(&mut buf))
            .await
            .expect("the client was left hanging")
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

#[corio::test]
async fn a_dropped_writer_to_a_reading_peer_delivers_everything() {
    let (server, client) = writer_dropped_on_a_silent_peer(Duration::from_secs(600)).await;
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0usize;
    loop {
        match timeout(Duration::from_secs(10), client.read(&mut buf))
            .await
            .expect("stalled")
            .unwrap()
        {
            0 => break,
            n => total += n,
        }
    }
    assert_eq!(total, 16 << 20, "no byte lost");
    assert!(wait_for_connections(&server, 0, Duration::from_secs(5)).await);
}
