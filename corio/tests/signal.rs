//! Signals delivered to this process reach their streams. Each test uses
//! its own signal: signals are process-wide and tests run in parallel.

use std::time::Duration;

use corio::signal::{ctrl_c, signal, SignalKind};
use corio::{spawn, timeout, yield_now};
use futures::StreamExt;

fn raise(sig: i32) {
    // SAFETY: kill(2) on our own pid with a signal the test handles.
    assert_eq!(unsafe { libc::kill(libc::getpid(), sig) }, 0);
}

#[corio::test]
async fn a_signal_from_another_process_reaches_its_stream() {
    let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
    let status = corio::process::Command::new("kill")
        .args(["-USR1", &std::process::id().to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    timeout(Duration::from_secs(10), usr1.recv())
        .await
        .expect("SIGUSR1 arrived");
    assert_eq!(usr1.kind(), SignalKind::user_defined1());
}

#[corio::test]
async fn every_stream_of_a_signal_sees_it_and_repeats_arrive() {
    let mut a = signal(SignalKind::user_defined2()).unwrap();
    let mut b = signal(SignalKind::user_defined2()).unwrap();
    for _ in 0..3 {
        raise(libc::SIGUSR2);
        timeout(Duration::from_secs(10), a.recv()).await.unwrap();
        timeout(Duration::from_secs(10), b.next()).await.unwrap();
    }
}

#[corio::test]
async fn ctrl_c_resolves_on_sigint() {
    let waiter = spawn(ctrl_c());
    yield_now().await; // the task registers its handler on its first poll
    raise(libc::SIGINT);
    timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[corio::test]
async fn signals_that_cannot_be_handled_are_errors() {
    for sig in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
        let err = signal(SignalKind::from_raw(sig)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "signal {sig}");
    }
}
