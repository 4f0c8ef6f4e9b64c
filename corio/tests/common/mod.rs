//! Helpers shared by several test binaries (each uses some of them).
#![allow(dead_code)]

use std::time::Duration;

/// Lets every ready task run until all are parked.
pub async fn settle() {
    for _ in 0..10 {
        corio::yield_now().await;
    }
}

/// Awaits `f`, failing (instead of hanging) if a lost wake-up leaves it stuck:
/// on the paused clock the hour passes at once when every task is parked.
pub async fn must_finish<F: std::future::Future>(f: F) -> F::Output {
    corio::timeout(Duration::from_secs(3600), f)
        .await
        .expect("stuck: a permit, item or wake-up was lost")
}

/// The 1,000-client tests hold ~2,000 descriptors: lift the soft limit to
/// the hard one in case the machine's default is 1,024.
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Runs test `name` of this test binary again in a child process of its
/// own, with `env` set, and returns what it printed and how it ended: for
/// what must not happen beside other tests' threads (a seccomp filter, a
/// fork) or must be read from a fresh process's stderr. The child tells
/// itself apart by a variable in `env`.
pub fn rerun_alone(name: &str, env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .output()
        .unwrap()
}
