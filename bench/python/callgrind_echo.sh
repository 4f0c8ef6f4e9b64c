#!/usr/bin/env bash
# Instructions per echo round trip of a Python Protocol echo server, per
# loop: the server runs under callgrind (user space only) and serves CONNS
# connections of ROUNDS 64-byte round trips from a blocking client, then
# stops; run at ROUNDS and 3 x ROUNDS, the difference over the extra round
# trips cancels start-up and connection set-up.
#
#   bench/python/callgrind_echo.sh [CONNS] [ROUNDS]   (after bench/python/run.sh set up the venvs)
#   LOOPS="corio corio-uring" bench/python/callgrind_echo.sh    (some loops only)
set -euo pipefail
cd "$(dirname "$0")"
conns=${1:-50}
rounds=${2:-100}
root=$(cd ../.. && pwd)
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }

# Instructions a server executes for CONNS x $1 round trips.
instructions() {
    local loop=$1 n=$2 py out
    py="$root/target/py-venvs/3.11-uvloop/bin/python"
    [[ "$loop" == corio* ]] && py="$root/target/py-venvs/3.11/bin/python"
    out=$(mktemp -d)
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        "$py" echo_server.py "$loop" protocol --exit-after "$conns" >"$out/port" 2>"$out/log" &
    local server=$!
    while [ ! -s "$out/port" ]; do sleep 0.2; done
    python3 echo_client.py "$(cat "$out/port")" "$conns" "$n" >/dev/null
    wait "$server"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/log"
    rm -rf "$out"
}

for loop in ${LOOPS:-asyncio uvloop rloop corio corio-uring}; do
    small=$(instructions "$loop" "$rounds")
    large=$(instructions "$loop" $((3 * rounds)))
    printf '%-8s %8.0f instructions per round trip\n' "$loop" \
        "$(echo "($large - $small) / ($conns * 2 * $rounds)" | bc -l)"
done
