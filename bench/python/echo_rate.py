"""Echo round trips per second of a Python echo server, per loop: the
server pinned to core 0, corio-bench's Rust load generator (50
connections, 64-byte ping-pong, 5 s) pinned to core 1; the server's user
CPU per round trip from /proc. Loops alternate, medians of the rounds.

    python bench/python/echo_rate.py --python corio=PY --python uvloop=PY ... [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOADGEN = HERE.parent.parent / "target" / "release" / "corio-bench"


def user_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK")


def one(python: str, loop: str, mode: str) -> tuple[float, float]:
    server = subprocess.Popen(
        ["taskset", "-c", "0", python, str(HERE / "echo_server.py"), loop, mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        before = user_seconds(server.pid)
        out = subprocess.run(
            [str(LOADGEN), "tcp-load", f"127.0.0.1:{port}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        used = user_seconds(server.pid) - before
    finally:
        server.kill()
        server.wait()
    trips = int(out.split()[1])
    return trips / 5.0, used / trips * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", action="append", required=True, help="LOOP=INTERPRETER")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    loops = dict(p.split("=", 1) for p in args.python)
    names = list(loops)
    print("| echo | " + " | ".join(f"{n} rt/s (user µs/rt)" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for mode in ("protocol", "streams"):
        rates: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                rate, user = one(loops[name], name, mode)
                rates[name].append(rate)
                cpu[name].append(user)
        cells = [
            f"{statistics.median(rates[n]):,.0f} ({statistics.median(cpu[n]):.2f})" for n in names
        ]
        print(f"| {mode} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
