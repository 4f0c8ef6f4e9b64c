//! Async subprocesses with real child processes.

use std::cell::Cell;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::process::Command;

#[corio::test]
async fn output_captures_stdout_stderr_and_status() {
    let out = Command::shell("echo out; echo err >&2; exit 3")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(3));
    let sum = Command::shell("echo $((2 + 3))").output().await.unwrap();
    assert_eq!(sum.stdout, b"5\n");
}

#[corio::test]
async fn a_missing_program_is_not_found() {
    let err = Command::new("/definitely/not/a/program")
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[corio::test]
async fn communicate_10_mib_each_way_without_deadlock() {
    const LEN: usize = 10 << 20;
    let input: Vec<u8> = (0..LEN).map(|i| (i % 253) as u8).collect();
    // tee copies stdin to stdout and to stderr: 10 MiB in, 10 MiB out on each.
    let mut child = Command::shell("tee /dev/stderr")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = corio::timeout(Duration::from_secs(60), child.communicate(&input))
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), LEN);
    assert!(out.stdout == input, "stdout intact");
    assert!(out.stderr == input, "stderr intact");
}

#[corio::test]
async fn streaming_through_stdin_and_stdout() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin.write_all(b"line one\n").await.unwrap();
    let mut buf = [0u8; 9];
    stdout.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"line one\n");
    drop(stdin); // EOF: cat exits
    assert!(child.wait().await.unwrap().success());
}

#[corio::test]
async fn killing_a_sleeping_child() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id().unwrap();
    let started = Instant::now();
    child.kill().unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(child.id(), None, "reaped");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "no zombie left"
    );
    child.kill().unwrap(); // harmless after reaping
}

#[corio::test]
async fn waiting_does_not_block_the_loop() {
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let ticker = corio::spawn(async move {
        loop {
            corio::sleep(Duration::from_millis(5)).await;
            t.set(t.get() + 1);
        }
    });
    let status = Command::new("sleep").arg("0.2").status().await.unwrap();
    assert!(status.success());
    assert!(
        ticks.get() >= 5,
        "other tasks ran while we waited ({} ticks)",
        ticks.get()
    );
    ticker.cancel();
}

#[corio::test]
async fn terminate_and_custom_signals() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    child.terminate().unwrap();
    assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGTERM));
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    child.send_signal(libc::SIGUSR2).unwrap();
    assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGUSR2));
}

#[corio::test]
async fn a_dropped_child_is_reaped_not_left_a_zombie() {
    let child = Command::new("sleep").arg("0.05").spawn().unwrap();
    let pid = child.id().unwrap();
    drop(child); // not awaited
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        corio::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} lingers (zombie?)"
    );

    let mut killed = Command::new("sleep");
    let child = killed.arg("60").kill_on_drop(true).spawn().unwrap();
    let pid = child.id().unwrap();
    drop(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        corio::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "kill_on_drop child gone and reaped"
    );
}

/// Whether process `pid` still exists (a zombie counts as gone).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// A shell that starts a grandchild `sleep` and prints its pid.
async fn shell_with_grandchild(cmd: &mut Command) -> (corio::process::Child, i32) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    let mut out = corio::stream::StreamReader::new(child.stdout.take().unwrap());
    while !line.ends_with('\n') {
        let chunk = out.read_line().await.unwrap();
        assert!(!chunk.is_empty(), "the shell printed no pid");
        line.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    (child, line.trim().parse().unwrap())
}

#[corio::test]
async fn a_new_session_or_group_lets_a_signal_reach_the_grandchildren() {
    for new_session in [true, false] {
        let mut cmd = Command::shell("sleep 30 & echo $!; wait");
        if new_session {
            cmd.start_new_session(true);
        } else {
            cmd.process_group(0);
        }
        let (mut child, grandchild) = shell_with_grandchild(&mut cmd).await;
        let pid = child.id().unwrap() as i32;
        // SAFETY: getpgid/getsid only read another process's ids.
        let (pgid, sid) = unsafe { (libc::getpgid(pid), libc::getsid(pid)) };
        assert_eq!(pgid, pid, "the child leads its group");
        assert_eq!(sid == pid, new_session, "a new session only when asked");
        assert!(alive(grandchild));
        child.send_signal_to_group(libc::SIGKILL).unwrap();
        child.wait().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(grandchild) && Instant::now() < deadline {
            corio::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            !alive(grandchild),
            "the grandchild was killed with its group"
        );
    }
}

#[corio::test]
async fn signalling_the_group_of_a_child_that_does_not_lead_one_is_refused() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let err = child.send_signal_to_group(libc::SIGKILL).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    child.kill().unwrap();
    child.wait().await.unwrap();
}
