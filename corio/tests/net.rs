//! Sockets on real loopback: TCP, UDP, Unix; errors; descriptor hygiene.

use std::io::ErrorKind;
use std::net::Shutdown;
use std::time::Duration;

use corio::net::{
    lookup_host, BindOptions, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener,
    UnixStream,
};
use corio::{spawn, timeout};
use futures::{AsyncReadExt, AsyncWriteExt};

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("corio-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[corio::test]
async fn tcp_connect_accept_read_write_peek() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    let server = spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.peer_addr().unwrap());
        let mut buf = [0u8; 5];
        assert_eq!(stream.peek(&mut buf).await.unwrap(), 5);
        let mut all = [0u8; 5];
        let mut got = 0;
        while got < 5 {
            got += stream.read(&mut all[got..]).await.unwrap();
        }
        assert_eq!(buf, all, "peek saw what read then took");
        stream.write_all(b"world").await.unwrap();
    });
    let client = TcpStream::connect(addr).await.unwrap();
    client.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    client.write_all(b"hello").await.unwrap();
    let mut reply = Vec::new();
    let mut client = client;
    client.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"world");
    server.await.unwrap();
}

#[corio::test]
async fn connect_to_a_closed_port_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[corio::test]
async fn a_bad_address_is_a_clear_error() {
    let err = TcpStream::connect("not an address").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[corio::test]
async fn connect_by_name_resolves_off_the_loop() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let addrs = lookup_host(("localhost", port)).await.unwrap();
    assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    let accept = spawn(async move { listener.accept().await.unwrap().1 });
    // "localhost" may resolve to ::1 first: connect tries each address in turn.
    let stream = TcpStream::connect(format!("localhost:{port}"))
        .await
        .unwrap();
    assert_eq!(accept.await.unwrap(), stream.local_addr().unwrap());
}

#[corio::test]
async fn peer_reset_is_a_typed_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1];
        stream.read(&mut buf).await.unwrap();
        // SO_LINGER 0: close sends RST instead of FIN.
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(stream);
    });
    let client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"x").await.unwrap();
    server.await.unwrap();
    let mut buf = [0u8; 16];
    let err = client.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
}

#[corio::test]
async fn half_close_then_read_to_end() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).await.unwrap(); // ends at the client's FIN
        stream.write_all(&request.repeat(2)).await.unwrap();
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"abc").await.unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"abcabc");
    server.await.unwrap();
}

#[corio::test]
async fn owned_split_halves_work_from_two_tasks() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = stream.split();
        futures::io::copy(&mut r, &mut w).await.unwrap()
    });
    let (mut read, mut write) = TcpStream::connect(addr).await.unwrap().into_split();
    let writer = spawn(async move {
        for i in 0..100u32 {
            write.write_all(&i.to_le_bytes()).await.unwrap();
        }
        // dropping the write half sends FIN
    });
    let mut got = Vec::new();
    read.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    let expected: Vec<u8> = (0..100u32).flat_map(|i| i.to_le_bytes()).collect();
    assert_eq!(got, expected);
    assert_eq!(echo.await.unwrap(), 400);
}

#[corio::test]
async fn reuse_port_lets_two_listeners_share_a_port() {
    let options = BindOptions {
        reuse_port: true,
        ..BindOptions::default()
    };
    let a = TcpListener::bind_with("127.0.0.1:0", options)
        .await
        .unwrap();
    let port = a.local_addr().unwrap().port();
    let b = TcpListener::bind_with(("127.0.0.1", port), options)
        .await
        .unwrap();
    assert_eq!(b.local_addr().unwrap().port(), port);
    let without = TcpListener::bind(("127.0.0.1", port)).await;
    assert_eq!(without.unwrap_err().kind(), ErrorKind::AddrInUse);
}

#[corio::test]
async fn udp_round_trips() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server_addr = server.local_addr().unwrap();
    let echo = spawn(async move {
        let mut buf = [0u8; 64];
        for _ in 0..10 {
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            server.send_to(&buf[..n], from).await.unwrap();
        }
    });
    client.connect(server_addr).await.unwrap();
    assert_eq!(client.peer_addr().unwrap(), server_addr);
    for i in 0..10u8 {
        let msg = [i; 10];
        client.send(&msg).await.unwrap();
        let mut buf = [0u8; 64];
        let n = timeout(Duration::from_secs(10), client.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], &msg);
    }
    echo.await.unwrap();
}

#[corio::test]
async fn unix_stream_and_datagram_round_trips() {
    let dir = temp_dir("unix");
    let path = dir.join("stream.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.unwrap();
        stream.write_all(&buf).await.unwrap();
    });
    let mut client = UnixStream::connect(&path).await.unwrap();
    client.write_all(b"over a unix socket").await.unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"over a unix socket");
    server.await.unwrap();

    let a_path = dir.join("a.sock");
    let b_path = dir.join("b.sock");
    let a = UnixDatagram::bind(&a_path).unwrap();
    let b = UnixDatagram::bind(&b_path).unwrap();
    a.send_to(b"dgram", &b_path).await.unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"dgram");
    assert_eq!(from.as_pathname(), Some(a_path.as_path()));
    let (x, y) = UnixDatagram::pair().unwrap();
    x.send(b"pair").await.unwrap();
    assert_eq!(y.recv(&mut buf).await.unwrap(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[corio::test]
async fn unix_connect_to_a_missing_path_fails() {
    let err = UnixStream::connect("/nonexistent/corio.sock")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}
