//! corio, tokio and smol side by side, in one run.
//!
//! ```sh
//! cargo run --release -p corio-bench -- all          # everything (installs wrk if missing)
//! cargo run --release -p corio-bench -- micro        # in-process workloads only
//! cargo run --release -p corio-bench -- micro --runs 3
//! cargo run --release -p corio-bench -- callgrind    # instructions per operation (valgrind)
//! cargo run --release -p corio-bench -- spawn timers  # single workloads, by id prefix
//! ```
//!
//! Every sample of an in-process workload runs in a fresh process
//! (`corio-bench sample ID RUNTIME`), pinned to CPU 0; runtimes alternate,
//! their order rotated from run to run; medians are reported.

mod callgrind;
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

/// One in-process workload: its figure on each runtime it runs on.
struct Workload {
    /// Short name, for `sample`, `solo` and the command line.
    id: &'static str,
    /// The row's title.
    title: &'static str,
    unit: &'static str,
    better: Better,
    /// The issue's target: at least `.0` times as good as the peer `.1`.
    target: Option<(f64, &'static str)>,
    runtimes: &'static [Rt],
    /// The workload at `n` operations, returning the row's figure.
    run: fn(Rt, u64) -> f64,
    /// `n` for the wall-time row.
    n: u64,
}

const ALL: &[Rt] = &[Rt::Corio, Rt::Tokio, Rt::Smol];
/// Workloads monoio has the primitives for.
const WITH_MONOIO: &[Rt] = &[Rt::Corio, Rt::Tokio, Rt::Smol, Rt::Monoio];

fn workloads() -> Vec<Workload> {
    let w = |id, title, unit, target, runtimes, run: fn(Rt, u64) -> f64, n| Workload {
        id,
        title,
        unit,
        better: Better::Lower,
        target,
        runtimes,
        run,
        n,
    };
    vec![
        w(
            "spawn_join",
            "spawn_join (1M tasks)",
            "ns/task",
            Some((1.1, "monoio")),
            WITH_MONOIO,
            micro::spawn_join,
            1_000_000,
        ),
        w(
            "yield_now",
            "yield_now, own (1M)",
            "ns/yield",
            None,
            WITH_MONOIO,
            micro::yield_now,
            1_000_000,
        ),
        w(
            "hand_yield",
            "yield, same code (1M)",
            "ns/yield",
            Some((1.5, "best")),
            WITH_MONOIO,
            micro::hand_yield_row,
            1_000_000,
        ),
        w(
            "ping_pong",
            "ping_pong, both spawned",
            "ns/hand-off",
            Some((2.0, "tokio")),
            &[Rt::Corio, Rt::Tokio, Rt::TokioNotify, Rt::Smol],
            micro::ping_pong,
            1_000_000,
        ),
        w(
            "timers_10k",
            "timers 10k (wall)",
            "ms total",
            None,
            WITH_MONOIO,
            micro::timers,
            10_000,
        ),
        w(
            "timers_100k",
            "timers 100k (wall)",
            "ms total",
            None,
            WITH_MONOIO,
            micro::timers,
            100_000,
        ),
        w(
            "timers_1m",
            "timers 1M (wall)",
            "ms total",
            None,
            WITH_MONOIO,
            micro::timers,
            1_000_000,
        ),
        w(
            "timers_cpu_10k",
            "timers 10k (CPU)",
            "ns/timer",
            None,
            WITH_MONOIO,
            micro::timers_cpu,
            10_000,
        ),
        w(
            "timers_cpu_100k",
            "timers 100k (CPU)",
            "ns/timer",
            None,
            WITH_MONOIO,
            micro::timers_cpu,
            100_000,
        ),
        w(
            "timers_cpu_1m",
            "timers 1M (CPU)",
            "ns/timer",
            Some((1.5, "smol")),
            WITH_MONOIO,
            micro::timers_cpu,
            1_000_000,
        ),
        w(
            "timeouts",
            "timeouts, ready (1M)",
            "ns/timeout",
            None,
            WITH_MONOIO,
            micro::timeouts,
            1_000_000,
        ),
        w(
            "timeouts_armed",
            "timeouts, armed (1M)",
            "ns/timeout",
            Some((1.2, "best")),
            WITH_MONOIO,
            micro::timeouts_armed,
            1_000_000,
        ),
        w(
            "lock",
            "lock (uncontended)",
            "ns/lock",
            None,
            ALL,
            micro::lock,
            1_000_000,
        ),
        w(
            "semaphore",
            "semaphore (uncontended)",
            "ns/acquire",
            None,
            ALL,
            micro::semaphore,
            1_000_000,
        ),
        w(
            "queue",
            "queue put+get",
            "ns/pair",
            None,
            ALL,
            micro::queue,
            1_000_000,
        ),
    ]
}

fn runtime_named(name: &str) -> Rt {
    [Rt::Corio, Rt::Tokio, Rt::TokioNotify, Rt::Smol, Rt::Monoio]
        .into_iter()
        .find(|rt| rt.id() == name)
        .unwrap_or_else(|| {
            panic!("unknown runtime {name:?} (corio, tokio, tokio-notify, smol, monoio)")
        })
}

/// The runtimes workload `id` runs on.
fn workload_runtimes(id: &str) -> &'static [Rt] {
    workload_named(id).runtimes
}

fn workload_named(id: &str) -> Workload {
    workloads()
        .into_iter()
        .find(|w| w.id == id)
        .unwrap_or_else(|| panic!("unknown workload {id:?}"))
}

/// One sample in a fresh process (`corio-bench sample ID RT`): no runtime
/// inherits another's heap.
fn sample_in_child(w: &Workload, rt: Rt) -> f64 {
    let exe = std::env::current_exe().expect("own executable");
    let out = std::process::Command::new(exe)
        .args(["sample", w.id, rt.id()])
        .output()
        .expect("run a sample process");
    assert!(
        out.status.success(),
        "sample {} on {} failed: {}",
        w.id,
        rt.id(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a sample prints its figure")
}

/// Child role `sample ID RT`: one sample, pinned to CPU 0; prints the figure.
fn sample(args: &[String]) {
    pin_to_cpu(0);
    let w = workload_named(&args[0]);
    println!("{}", (w.run)(runtime_named(&args[1]), w.n));
}

fn selected(filter: &[String]) -> Vec<Workload> {
    workloads()
        .into_iter()
        .filter(|w| filter.is_empty() || filter.iter().any(|f| w.id.starts_with(f.as_str())))
        .collect()
}

fn run_micro(runs: usize, filter: &[String]) -> Vec<Row> {
    let mut rows = Vec::new();
    for w in selected(filter) {
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); w.runtimes.len()];
        for run in 0..runs {
            // Rotate the order from run to run to spread the machine's noise.
            let mut order: Vec<usize> = (0..w.runtimes.len()).collect();
            order.rotate_left(run % w.runtimes.len());
            for i in order {
                samples[i].push(sample_in_child(&w, w.runtimes[i]));
            }
        }
        let figures = w
            .runtimes
            .iter()
            .zip(samples)
            .map(|(rt, s)| (rt.name(), median(s)))
            .collect();
        eprintln!("  done: {}", w.title);
        rows.push(Row {
            name: w.title.to_owned(),
            unit: w.unit,
            better: w.better,
            figures,
            target: w.target,
            uring_target: None,
        });
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
        Some("sample") => return sample(&args[1..]),
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
    let singles: Vec<String> = what
        .iter()
        .filter(|w| !["all", "micro", "memory", "tcp", "http", "callgrind"].contains(&w.as_str()))
        .cloned()
        .collect();
    if section("micro") {
        rows.extend(run_micro(runs, &[]));
    } else if !singles.is_empty() && !what.iter().any(|w| w == "callgrind") {
        rows.extend(run_micro(runs, &singles));
    }
    if what.iter().any(|w| w == "callgrind") {
        rows.extend(callgrind::run(&singles));
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

/// `solo WORKLOAD N [RT]`: one workload, once, at `n` operations, on
/// `RT` (corio by default), for instruction counting under callgrind
/// (`bench/callgrind.sh`, `corio-bench callgrind`); prints its figure.
/// `echo` is corio's in-process TCP echo (corio only).
fn solo(args: &[String]) {
    let id = args.first().map(String::as_str).unwrap_or("");
    let n: u64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let rt = args.get(2).map_or(Rt::Corio, |r| runtime_named(r));
    let figure = match id {
        "echo" => micro::echo_in_process(n),
        // The old names of the timers rows.
        "timers" => micro::timers(rt, n),
        id => (workload_named(id).run)(rt, n),
    };
    println!("{id} {n} {figure:.1}");
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
