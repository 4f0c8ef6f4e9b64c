//! Stops the build (so `pip install` stops) with a clear message on a
//! platform corio does not run on.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        eprintln!(
            "error: corio runs on Linux only (it is built on epoll, eventfd and pidfd); \
             this build targets {os:?}"
        );
        std::process::exit(1);
    }
}
