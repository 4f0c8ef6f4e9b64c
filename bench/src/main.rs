//! corio, tokio and smol side by side, in one run.
//!
//! ```sh
//! cargo run --release -p corio-bench -- all          # everything (installs wrk if missing)
//! cargo run --release -p corio-bench -- micro        # in-process workloads only
//! cargo run --release -p corio-bench -- micro --runs 3
//! ```

mod memory;
mod micro;
mod net;
mod report;

use micro::Rt;
use report::{median, Better, Row};

/// Pins this process to one CPU (the server side of the machine).
pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes a bit
    // in it; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

type Workload = (
    &'static str,
    &'static str,
    Better,
    Option<(f64, &'static str)>,
    &'static [Rt],
    fn(Rt) -> f64,
);

const ALL: &[Rt] = &[Rt::Corio, Rt::Tokio, Rt::Smol];
/// Workloads monoio has the primitives for.
const WITH_MONOIO: &[Rt] = &[Rt::Corio, Rt::Tokio, Rt::Smol, Rt::Monoio];

fn micro_workloads() -> Vec<Workload> {
    vec![
        (
            "spawn_join (1M tasks)",
            "ns/task",
            Better::Lower,
            Some((1.2, "smol")),
            WITH_MONOIO,
            |rt| micro::spawn_join(rt, 1_000_000),
        ),
        (
            "yield_now (1M yields)",
            "ns/yield",
            Better::Lower,
            Some((1.2, "smol")),
            WITH_MONOIO,
            |rt| micro::yield_now(rt, 1_000_000),
        ),
        (
            "ping_pong (1M hand-offs)",
            "ns/hand-off",
            Better::Lower,
            Some((1.5, "tokio")),
            &[Rt::Corio, Rt::Tokio, Rt::TokioNotify, Rt::Smol],
            |rt| micro::ping_pong(rt, 1_000_000),
        ),
        (
            "timers (100k sleeps 0-50ms)",
            "ms total",
            Better::Lower,
            Some((1.2, "smol")),
            WITH_MONOIO,
            |rt| micro::timers(rt, 100_000),
        ),
        (
            "timeouts (1M set+cancel)",
            "ns/timeout",
            Better::Lower,
            None,
            WITH_MONOIO,
            |rt| micro::timeouts(rt, 1_000_000),
        ),
        (
            "lock (uncontended)",
            "ns/lock",
            Better::Lower,
            None,
            ALL,
            |rt| micro::lock(rt, 1_000_000),
        ),
        (
            "semaphore (uncontended)",
            "ns/acquire",
            Better::Lower,
            None,
            ALL,
            |rt| micro::semaphore(rt, 1_000_000),
        ),
        ("queue put+get", "ns/pair", Better::Lower, None, ALL, |rt| {
            micro::queue(rt, 1_000_000)
        }),
    ]
}

fn run_micro(runs: usize, filter: &[String]) -> Vec<Row> {
    pin_to_cpu(0);
    let workloads: Vec<Workload> = micro_workloads()
        .into_iter()
        .filter(|w| filter.is_empty() || filter.iter().any(|f| w.0.starts_with(f.as_str())))
        .collect();
    let mut rows = Vec::new();
    for (name, unit, better, target, runtimes, f) in workloads {
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); runtimes.len()];
        for run in 0..runs {
            // Alternate the order from run to run to spread the machine's noise.
            let mut order: Vec<usize> = (0..runtimes.len()).collect();
            order.rotate_left(run % runtimes.len());
            for i in order {
                samples[i].push(f(runtimes[i]));
            }
        }
        let figures = runtimes
            .iter()
            .zip(samples)
            .map(|(rt, s)| (rt.name(), median(s)))
            .collect();
        let row = Row {
            name: name.to_owned(),
            unit,
            better,
            figures,
            target,
        };
        eprintln!("  done: {name}");
        rows.push(row);
    }
    rows
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Child-process roles used by the networked and memory workloads.
    match args.first().map(String::as_str) {
        Some("mem-child") => return memory::child(&args[1..]),
        Some("tcp-server") => return net::tcp_server(&args[1..]),
        Some("tcp-load") => return net::tcp_load(&args[1..]),
        Some("http-server") => return net::http_server(&args[1..]),
        Some("solo") => return solo(&args[1..]),
        _ => {}
    }
    let mut runs = 5;
    let mut what = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => runs = it.next().and_then(|r| r.parse().ok()).expect("--runs N"),
            other => what.push(other.to_owned()),
        }
    }
    let all = what.is_empty() || what.iter().any(|w| w == "all");
    let section = |s: &str| all || what.iter().any(|w| w == s);
    println!("corio-bench: {} runs per figure, median reported", runs);
    println!("machine: {} cores, {}", num_cores(), cpu_model());
    let mut rows = Vec::new();
    if section("micro") {
        rows.extend(run_micro(runs, &[]));
    }
    let singles: Vec<String> = what
        .iter()
        .filter(|w| !["all", "micro", "memory", "tcp", "http"].contains(&w.as_str()))
        .cloned()
        .collect();
    if !singles.is_empty() {
        rows.extend(run_micro(runs, &singles));
    }
    if section("memory") {
        rows.extend(memory::run());
    }
    if section("tcp") {
        rows.extend(net::run_tcp(runs.min(3)));
    }
    if section("http") {
        rows.extend(net::run_http(runs.min(3)));
    }
    report::print_table(&rows);
}

/// `solo WORKLOAD N`: one corio workload, once, for instruction counting
/// under callgrind (`bench/callgrind.sh`); prints its figure.
fn solo(args: &[String]) {
    let name = args.first().map(String::as_str).unwrap_or("");
    let n: u64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let figure = match name {
        "spawn_join" => micro::spawn_join(Rt::Corio, n),
        "yield_now" => micro::yield_now(Rt::Corio, n),
        "ping_pong" => micro::ping_pong(Rt::Corio, n),
        "timers" => micro::timers(Rt::Corio, n),
        "timeouts" => micro::timeouts(Rt::Corio, n),
        "echo" => micro::echo_in_process(n),
        other => panic!(
            "solo: unknown workload {other:?} (spawn_join, yield_now, ping_pong, timers, timeouts, echo)"
        ),
    };
    println!("{name} {n} {figure:.1}");
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}
