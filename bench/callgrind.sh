#!/usr/bin/env bash
# Instructions per operation of corio's core workloads under callgrind:
# repeatable where wall times drift. Usage: bench/callgrind.sh [N]
# Prints one line per workload: name, operations, instructions per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release -q -p corio-bench
exe=target/release/corio-bench
out=$(mktemp -d)
for w in spawn_join yield_now ping_pong timers timeouts echo; do
    ops=$n
    [ "$w" = timers ] && ops=$((n / 10))
    [ "$w" = echo ] && ops=$((n / 10))
    # Baseline: the same process with 0 operations (start-up and teardown).
    for k in 0 "$ops"; do
        valgrind --tool=callgrind --callgrind-out-file="$out/$w.$k" "$exe" solo "$w" "$k" >/dev/null 2>"$out/$w.$k.log"
    done
    total() { grep -E '^(summary|totals):' "$1" | head -1 | awk '{print $2}'; }
    base=$(total "$out/$w.0")
    full=$(total "$out/$w.$ops")
    awk -v w="$w" -v n="$ops" -v a="$base" -v b="$full" 'BEGIN { printf "%-12s %8d ops %10.1f instructions/op\n", w, n, (b - a) / n }'
done
rm -rf "$out"
