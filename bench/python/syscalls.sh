#!/usr/bin/env bash
# System calls per echo round trip of a Python echo server, per loop: the
# server runs under `strace -c -f`, a blocking client makes CONNS x ROUNDS
# 64-byte round trips; start-up and connection set-up are counted too.
#
#   bench/python/syscalls.sh [CONNS] [ROUNDS]     (after bench/python/run.sh set up the venvs)
set -euo pipefail
cd "$(dirname "$0")"
conns=${1:-50}
rounds=${2:-400}
root=$(cd ../.. && pwd)
command -v strace >/dev/null || { apt-get update -qq && apt-get install -y -qq strace >/dev/null; }
for loop in asyncio uvloop corio corio-uring; do
    py="$root/target/py-venvs/3.11-uvloop/bin/python"
    [[ "$loop" == corio* ]] && py="$root/target/py-venvs/3.11/bin/python"
    out=$(mktemp -d)
    "$py" echo_server.py "$loop" >"$out/port" &
    server=$!
    while [ ! -s "$out/port" ]; do sleep 0.05; done
    strace -c -f -p "$server" -o "$out/strace" 2>/dev/null &
    tracer=$!
    sleep 0.5
    trips=$(python3 echo_client.py "$(cat "$out/port")" "$conns" "$rounds")
    kill -INT "$tracer"
    wait "$tracer" || true
    kill "$server"
    wait "$server" 2>/dev/null || true
    # The calls column of every syscall row (the table between the rules).
    total=$(awk '/^------/ {n++; next} n == 1 {sum += $4} END {print sum}' "$out/strace")
    printf '%-8s %s round trips, %s system calls, %.2f per round trip\n' \
        "$loop" "$trips" "$total" "$(echo "$total / $trips" | bc -l)"
    sed -n '3,8p' "$out/strace" | awk '{print "          " $4 " " $NF}'
    rm -rf "$out"
done
