//! TLS echo on loopback, with a certificate generated in the test.

use std::sync::Arc;

use corio::stream::{StreamReader, StreamWriter};
use corio::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use corio::tls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use corio::tls::{open_connection_tls, start_server_tls};

struct Certs {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs() -> Certs {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(generated.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Certs {
        server: Arc::new(server),
        client: Arc::new(client),
    }
}

async fn echo_lines(mut reader: StreamReader, writer: StreamWriter) {
    reader.set_limit(4 << 20);
    while let Ok(line) = reader.read_line().await {
        if line.is_empty() || writer.write(&line).is_err() || writer.drain().await.is_err() {
            break;
        }
    }
}

#[corio::test]
async fn tls_echo_round_trips() {
    let certs = certs();
    let server = start_server_tls(echo_lines, "127.0.0.1:0", certs.server.clone())
        .await
        .unwrap();
    let addr = server.local_addrs()[0].inet().unwrap();
    let (mut reader, writer) = open_connection_tls(addr, "localhost", certs.client.clone())
        .await
        .unwrap();
    for i in 0..50 {
        let line = format!("secret line {i} {}\n", "z".repeat(i * 100));
        writer.write(line.as_bytes()).unwrap();
        writer.drain().await.unwrap();
        assert_eq!(reader.read_line().await.unwrap(), line.as_bytes());
    }
    // A large message crosses many TLS records.
    let big = vec![b'q'; 1 << 20];
    writer.write(&big).unwrap();
    writer.write(b"\n").unwrap();
    reader.set_limit(2 << 20);
    assert_eq!(reader.read_line().await.unwrap().len(), (1 << 20) + 1);
    writer.close();
    writer.wait_closed().await.unwrap();
}

#[corio::test]
async fn a_wrong_server_name_fails_the_handshake() {
    let certs = certs();
    let server = start_server_tls(echo_lines, "127.0.0.1:0", certs.server.clone())
        .await
        .unwrap();
    let addr = server.local_addrs()[0].inet().unwrap();
    let err = open_connection_tls(addr, "not-localhost.example", certs.client.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[corio::test]
async fn an_untrusted_certificate_fails_the_handshake() {
    let certs = certs();
    let server = start_server_tls(echo_lines, "127.0.0.1:0", certs.server.clone())
        .await
        .unwrap();
    let addr = server.local_addrs()[0].inet().unwrap();
    let other = self::certs(); // trusts a different self-signed certificate
    let err = open_connection_tls(addr, "localhost", other.client)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    // The server survives the failed handshake and serves the next client.
    let (mut reader, writer) = open_connection_tls(addr, "localhost", certs.client.clone())
        .await
        .unwrap();
    writer.write(b"still here\n").unwrap();
    assert_eq!(reader.read_line().await.unwrap(), b"still here\n");
}

#[corio::test]
async fn silent_clients_are_dropped_after_the_handshake_timeout() {
    use corio::stream::ServerOptions;
    use corio::tls::start_server_tls_with;
    use std::time::{Duration, Instant};

    let certs = certs();
    let server = start_server_tls_with(
        echo_lines,
        "127.0.0.1:0",
        certs.server.clone(),
        ServerOptions::default().handshake_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let addr = server.local_addrs()[0].inet().unwrap();
    // 100 clients connect and never say a word.
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(corio::net::TcpStream::connect(addr).await.unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.connections() < 100 && Instant::now() < deadline {
        corio::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.connections(), 100);
    // Within the timeout (and a wide margin) the server lets all go ...
    let started = Instant::now();
    while server.connections() > 0 && started.elapsed() < Duration::from_secs(5) {
        corio::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.connections(), 0, "silent clients still held");
    assert!(started.elapsed() >= Duration::from_millis(200));
    // ... and each client sees its connection closed.
    for s in &silent {
        let mut buf = [0u8; 1];
        let n = corio::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("the server did not close the connection");
        assert!(matches!(n, Ok(0) | Err(_)));
    }
    // A well-behaved client is still served.
    let (mut reader, writer) = open_connection_tls(addr, "localhost", certs.client.clone())
        .await
        .unwrap();
    writer.write(b"still here\n").unwrap();
    assert_eq!(reader.read_line().await.unwrap(), b"still here\n");
}

#[test]
fn failed_handshakes_go_to_the_exception_handler_in_debug_mode_only() {
    use corio::stream::ServerOptions;
    use corio::tls::start_server_tls_with;
    use std::sync::Mutex;
    use std::time::Duration;

    for debug in [false, true] {
        let reports = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = reports.clone();
        let rt = corio::Runtime::builder()
            .debug(debug)
            .exception_handler(move |e| seen.lock().unwrap().push(e.message.clone()))
            .build()
            .unwrap();
        rt.block_on(async {
            let certs = certs();
            let server = start_server_tls_with(
                echo_lines,
                "127.0.0.1:0",
                certs.server.clone(),
                ServerOptions::default().handshake_timeout(Duration::from_millis(100)),
            )
            .await
            .unwrap();
            let addr = server.local_addrs()[0].inet().unwrap();
            let s = corio::net::TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 1];
            let _ = corio::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
            corio::sleep(Duration::from_millis(50)).await;
        });
        let reports = reports.lock().unwrap();
        if debug {
            assert_eq!(reports.len(), 1, "{reports:?}");
            assert!(reports[0].contains("TLS handshake"), "{reports:?}");
        } else {
            assert!(reports.is_empty(), "{reports:?}");
        }
    }
}
