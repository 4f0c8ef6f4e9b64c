//! A corio I/O object awaited where it cannot be woken (another corio loop,
//! or no corio loop at all, as under another runtime) panics with a message
//! that says so, instead of hanging silently.

use std::time::Duration;

use corio::net::UdpSocket;

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    corio::task::panic_message(&*payload).to_owned()
}

#[test]
fn a_socket_awaited_on_another_loop_panics_with_a_message() {
    let first = corio::Runtime::new().unwrap();
    let socket = first.block_on(async { UdpSocket::bind("127.0.0.1:0").await.unwrap() });
    let second = corio::Runtime::new().unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        second.block_on(async {
            let mut buf = [0u8; 8];
            // Bounded: before the fix this waited for ever.
            corio::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await
        })
    }));
    let message = panic_text(result.expect_err("awaiting on the wrong loop must panic"));
    assert!(message.contains("another"), "{message}");
}

#[test]
fn a_socket_polled_without_a_corio_loop_names_the_likely_cause() {
    let rt = corio::Runtime::new().unwrap();
    let socket = rt.block_on(async { UdpSocket::bind("127.0.0.1:0").await.unwrap() });
    // A foreign executor (the futures crate's) stands in for tokio: it
    // polls on a thread with no corio loop running.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut buf = [0u8; 8];
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = futures::executor::block_on(futures::future::select(
            Box::pin(socket.recv_from(&mut buf)),
            Box::pin(async {
                // Give up after a while so that a hang fails the test.
                let _ = rx.recv_timeout(Duration::from_millis(500));
            }),
        ));
    }));
    drop(tx);
    let message = panic_text(result.expect_err("polling outside corio must panic"));
    assert!(message.contains("another runtime"), "{message}");
}
