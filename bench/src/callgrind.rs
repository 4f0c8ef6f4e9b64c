//! Instructions per operation under callgrind, for every runtime: they hold
//! on a noisy shared machine where wall times do not.
//!
//! Each workload runs alone in a fresh process (`corio-bench solo ID N RT`)
//! under `valgrind --tool=callgrind`, at `n` and at `2n` operations; the
//! difference divided by `n` cancels start-up, teardown and the first
//! growth of every buffer.

use std::process::Command;

use crate::micro::Rt;
use crate::report::{Better, Row};

/// (workload id, title, operations): the rows counted.
const COUNTED: &[(&str, &str, u64)] = &[
    ("spawn_join", "spawn_join", 100_000),
    ("yield_now", "yield_now, own", 100_000),
    ("hand_yield", "yield, same code", 100_000),
    ("ping_pong", "ping_pong, both spawned", 100_000),
    ("timers_cpu_10k", "timers (really pending)", 10_000),
    ("timeouts", "timeouts, ready", 100_000),
    ("timeouts_armed", "timeouts, armed", 100_000),
];

/// Total instructions of one run, from callgrind's output file.
fn instructions(id: &str, n: u64, rt: Rt) -> u64 {
    let exe = std::env::current_exe().expect("own executable");
    let out = std::env::temp_dir().join(format!(
        "corio-bench-cg-{}-{id}-{}-{n}",
        std::process::id(),
        rt.id()
    ));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "-q"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .args(["solo", id, &n.to_string(), rt.id()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("valgrind (apt-get install valgrind)");
    assert!(
        status.success(),
        "callgrind run of {id} on {} failed",
        rt.id()
    );
    let text = std::fs::read_to_string(&out).expect("callgrind output");
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("callgrind reports a total")
}

/// Instruction-count rows for the workloads whose id starts with one of
/// `filter` (all when empty).
pub fn run(filter: &[String]) -> Vec<Row> {
    let mut rows = Vec::new();
    for &(id, title, n) in COUNTED {
        if !filter.is_empty() && !filter.iter().any(|f| id.starts_with(f.as_str())) {
            continue;
        }
        let runtimes = crate::workload_runtimes(id);
        let figures = runtimes
            .iter()
            .map(|&rt| {
                let (one, two) = (instructions(id, n, rt), instructions(id, 2 * n, rt));
                (rt.name(), two.saturating_sub(one) as f64 / n as f64)
            })
            .collect();
        eprintln!("  done: {title} (callgrind)");
        rows.push(Row {
            name: format!("{title} (instr)"),
            unit: "instr/op",
            better: Better::Lower,
            figures,
            target: None,
            uring_target: None,
        });
    }
    rows
}
