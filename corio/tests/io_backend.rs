//! The I/O backends: which one runs (CI runs every test binary once with
//! `CORIO_IO_BACKEND=io_uring`; this file asserts that it took), each one
//! moving data without loss and closing what it is told to close, and
//! io_uring refused by the kernel being an error, not epoll in disguise.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

use corio::io::{Interest, Watch};
use corio::net::{TcpListener, TcpStream};
use corio::runtime::IoBackend;
use corio::Runtime;
use futures::{AsyncReadExt, AsyncWriteExt};

mod common;

const BACKENDS: [IoBackend; 2] = [IoBackend::Epoll, IoBackend::IoUring];

#[test]
fn the_backend_is_the_one_the_environment_asks_for() {
    let asked = IoBackend::from_env().expect("CORIO_IO_BACKEND names a backend");
    let rt = Runtime::new().unwrap();
    assert_eq!(rt.io_backend(), asked, "CORIO_IO_BACKEND={asked}");
    eprintln!("I/O backend: {}", rt.io_backend());
}

#[test]
fn backend_names_parse_and_a_wrong_one_says_what_to_use() {
    assert_eq!("epoll".parse::<IoBackend>().unwrap(), IoBackend::Epoll);
    assert_eq!("io_uring".parse::<IoBackend>().unwrap(), IoBackend::IoUring);
    assert_eq!(IoBackend::IoUring.to_string(), "io_uring");
    let err = "kqueue".parse::<IoBackend>().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let message = err.to_string();
    assert!(
        message.contains("kqueue")
            && message.contains("\"epoll\"")
            && message.contains("\"io_uring\"")
    );
}

/// Four connections echo 256 KiB each through one server, at once: every
/// byte comes back in order, on each backend.
#[test]
fn each_backend_echoes_concurrent_streams_without_loss() {
    for backend in BACKENDS {
        let rt = Runtime::builder().io_backend(backend).build().unwrap();
        assert_eq!(rt.io_backend(), backend);
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = corio::spawn(async move {
                let mut handlers = Vec::new();
                for _ in 0..4 {
                    let (stream, _) = listener.accept().await.unwrap();
                    handlers.push(corio::spawn(async move {
                        let (mut reader, mut writer) = stream.into_split();
                        futures::io::copy(&mut reader, &mut writer).await.unwrap();
                        writer.close().await.unwrap();
                    }));
                }
                for handler in handlers {
                    handler.await.unwrap();
                }
            });
            let mut clients = Vec::new();
            for c in 0..4u8 {
                clients.push(corio::spawn(async move {
                    let sent: Vec<u8> = (0..256 * 1024u32)
                        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(c))
                        .collect();
                    let stream = TcpStream::connect(addr).await.unwrap();
                    let (mut reader, mut writer) = stream.into_split();
                    let to_send = sent.clone();
                    let writing = corio::spawn(async move {
                        writer.write_all(&to_send).await.unwrap();
                        writer.close().await.unwrap();
                    });
                    let mut got = Vec::new();
                    reader.read_to_end(&mut got).await.unwrap();
                    writing.await.unwrap();
                    assert!(
                        got == sent,
                        "{backend}: connection {c} lost or reordered bytes"
                    );
                }));
            }
            for client in clients {
                client.await.unwrap();
            }
            server.await.unwrap();
        });
    }
}

/// A socket dropped by its owner is closed at once: its peer, on the same
/// loop, reads the end of the stream (io_uring's poll requests hold their
/// file open until removed).
#[test]
fn each_backend_lets_go_of_a_dropped_socket() {
    for backend in BACKENDS {
        let rt = Runtime::builder().io_backend(backend).build().unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            for _ in 0..20 {
                let mut client = TcpStream::connect(addr).await.unwrap();
                let (accepted, _) = listener.accept().await.unwrap();
                accepted.write_all(b"bye").await.unwrap();
                drop(accepted);
                let mut got = Vec::new();
                let read = corio::timeout(Duration::from_secs(10), client.read_to_end(&mut got));
                read.await
                    .unwrap_or_else(|_| {
                        panic!("{backend}: no end of stream after the peer dropped")
                    })
                    .unwrap();
                assert_eq!(got, b"bye");
            }
        });
    }
}

/// The same with the loop stopped right after the drop and the peer a
/// blocking socket of this thread: the socket must be closed by the time
/// `block_on` returns, not at the loop's next wait.
#[test]
fn each_backend_closes_a_dropped_socket_before_the_loop_runs_again() {
    for backend in BACKENDS {
        let rt = Runtime::builder().io_backend(backend).build().unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        for _ in 0..20 {
            let mut peer = std::net::TcpStream::connect(addr).unwrap();
            peer.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            rt.block_on(async {
                let (accepted, _) = listener.accept().await.unwrap();
                accepted.write_all(b"bye").await.unwrap();
                drop(accepted);
            });
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap_or_else(|e| {
                panic!("{backend}: no end of stream while the loop is idle: {e}")
            });
            assert_eq!(got, b"bye");
        }
    }
}

/// A level-triggered watch reports a descriptor at every iteration while
/// it stays readable, and stops once it is drained, on each backend.
#[test]
fn each_backend_reports_level_triggered_watches_until_drained() {
    for backend in BACKENDS {
        let rt = Runtime::builder().io_backend(backend).build().unwrap();
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let watch = Watch::on(&rt, b.as_raw_fd(), Interest::READABLE).unwrap();
        rt.block_on(async {
            a.write_all(b"x").unwrap();
            for _ in 0..3 {
                watch.readable().await; // not read: still reported
                corio::yield_now().await;
            }
            let mut buf = [0u8; 8];
            assert_eq!((&b).read(&mut buf).unwrap(), 1);
            let later = corio::timeout(Duration::from_millis(50), watch.readable());
            assert!(
                later.await.is_err(),
                "{backend}: a drained descriptor was reported readable"
            );
            watch.set_interest(Interest::WRITABLE).unwrap();
            watch.writable().await;
        });
        drop(watch);
    }
}

/// Where the kernel refuses io_uring (here: a seccomp filter in a child
/// process makes `io_uring_setup` fail with ENOSYS), asking for it is an
/// error that names the way out; epoll still builds.
#[test]
fn io_uring_refused_by_the_kernel_is_an_error_not_epoll() {
    if std::env::var_os("CORIO_TEST_CHILD").is_some() {
        deny_io_uring_setup();
        let err = Runtime::builder()
            .io_backend(IoBackend::IoUring)
            .build()
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("io_uring") && message.contains("CORIO_IO_BACKEND=epoll"),
            "{message}"
        );
        // The environment asks for io_uring in this child: the default
        // builder fails the same way.
        assert!(Runtime::new().is_err());
        let rt = Runtime::builder()
            .io_backend(IoBackend::Epoll)
            .build()
            .unwrap();
        assert_eq!(rt.io_backend(), IoBackend::Epoll);
        return;
    }
    run_alone(
        "io_uring_refused_by_the_kernel_is_an_error_not_epoll",
        &[("CORIO_IO_BACKEND", "io_uring")],
    );
}

/// Where the kernel refuses provided-buffer rings (here: a seccomp filter
/// denies `io_uring_register` in a child process), an io_uring loop keeps
/// stream sockets on readiness when nothing asked for completion mode, and
/// naming completion mode is an error when the loop is built, not a
/// fall-back.
#[test]
fn completion_streams_refused_by_the_kernel_fall_back_only_when_not_named() {
    const NAME: &str = "completion_streams_refused_by_the_kernel_fall_back_only_when_not_named";
    if std::env::var_os("CORIO_TEST_CHILD").is_some() {
        deny_syscall(libc::SYS_io_uring_register);
        let named = std::env::var("CORIO_IO_URING_STREAMS").unwrap_or_default();
        let built = Runtime::builder().io_backend(IoBackend::IoUring).build();
        if named == "completion" {
            let Err(err) = built else {
                panic!("completion mode named on a kernel that refuses it: an error, not readiness in disguise")
            };
            let message = err.to_string();
            assert!(
                message.contains("CORIO_IO_URING_STREAMS=readiness") && message.contains("5.19"),
                "{message}"
            );
            return;
        }
        built.unwrap().block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (client, accepted) = corio::gather!(TcpStream::connect(addr), listener.accept());
            let (client, (mut server, _)) = (client.unwrap(), accepted.unwrap());
            assert!(!client.is_completion_based() && !server.is_completion_based());
            client.write_all(b"ping").await.unwrap();
            let mut buf = [0; 4];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
        });
        return;
    }
    for named in ["", "completion"] {
        run_alone(NAME, &[("CORIO_IO_URING_STREAMS", named)]);
    }
}

/// Runs test `name` again in a child process of its own, with `env` set
/// and `CORIO_TEST_CHILD` telling it that it is the child: for what must
/// not happen beside other tests' threads (a seccomp filter, a fork).
fn run_alone(name: &str, env: &[(&str, &str)]) {
    let env: Vec<_> = env
        .iter()
        .copied()
        .chain([("CORIO_TEST_CHILD", "1")])
        .collect();
    let out = common::rerun_alone(name, &env);
    assert!(
        out.status.success(),
        "{name}: the child's checks failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Installs a seccomp filter on this thread: `io_uring_setup` fails with
/// ENOSYS (as on a kernel built without io_uring), everything else runs.
fn deny_io_uring_setup() {
    deny_syscall(libc::SYS_io_uring_setup);
}

/// Installs a seccomp filter on this process that fails system call `nr`
/// with `ENOSYS`, as a kernel without it would.
fn deny_syscall(nr: libc::c_long) {
    const NR_OFFSET: u32 = 0; // seccomp_data.nr
    let filter = [
        bpf_stmt(
            (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            NR_OFFSET,
        ),
        bpf_jump(
            (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            nr as u32,
            0,
            1,
        ),
        bpf_stmt(
            (libc::BPF_RET | libc::BPF_K) as u16,
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        ),
        bpf_stmt(
            (libc::BPF_RET | libc::BPF_K) as u16,
            libc::SECCOMP_RET_ALLOW,
        ),
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers; PR_SET_SECCOMP reads
    // the program, which outlives the call (the kernel copies it).
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const libc::sock_fprog
            ),
            0,
            "seccomp: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn bpf_stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn bpf_jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// A child forked from a process whose loop runs on io_uring does not
/// share the ring: using the loop there is an error that says so (the
/// ring's memory is not inherited), and the parent's loop goes on intact.
#[test]
fn a_forked_child_cannot_use_its_parents_io_uring_loop() {
    if std::env::var_os("CORIO_TEST_CHILD").is_none() {
        return run_alone("a_forked_child_cannot_use_its_parents_io_uring_loop", &[]);
    }
    let rt = Runtime::builder()
        .io_backend(IoBackend::IoUring)
        .build()
        .unwrap();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    // The child's expected panic is caught, not printed.
    std::panic::set_hook(Box::new(|_| {}));
    // SAFETY: this process runs this test alone (`run_alone`); the child
    // only runs the loop and leaves with _exit, running no destructor.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let used = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(corio::sleep(Duration::from_millis(1)))
        }));
        let message = used
            .err()
            .and_then(|e| e.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let code = if message.contains("after fork") { 0 } else { 1 };
        // SAFETY: ends the child at once, as a forked child should.
        unsafe { libc::_exit(code) };
    }
    let _ = std::panic::take_hook();
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child used the parent's ring or failed otherwise (status {status})"
    );
    rt.block_on(async {
        let client = corio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(b"after the fork").await.unwrap();
            stream.close().await.unwrap();
        });
        let (mut accepted, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        accepted.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"after the fork");
        client.await.unwrap();
    });
}
