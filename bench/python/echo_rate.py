"""Echo round trips per second of a Python echo server, per loop: the
server pinned to core 0, corio-bench's Rust load generator (50
connections, 64-byte ping-pong, 5 s) pinned to core 1; the server's user
CPU per round trip from /proc. Loops alternate, medians of the rounds.

    python bench/python/echo_rate.py --python corio=PY --python uvloop=PY ... [--rounds 3] [--mode protocol]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOADGEN = HERE.parent.parent / "target" / "release" / "corio-bench"


def user_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK")


def serve_and_load(server: list[str], load: Callable[[int], list[str]]) -> tuple[str, float]:
    """Starts ``server`` pinned to core 0 (it prints its port), runs the
    load generator ``load(port)`` against it; returns the generator's
    output and the server's user CPU seconds meanwhile."""
    proc = subprocess.Popen(["taskset", "-c", "0", *server], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        before = user_seconds(proc.pid)
        out = subprocess.run(load(port), check=True, capture_output=True, text=True).stdout
        return out, user_seconds(proc.pid) - before
    finally:
        proc.kill()
        proc.wait()


def one(python: str, loop: str, mode: str) -> tuple[float, float]:
    out, used = serve_and_load(
        [python, str(HERE / "echo_server.py"), loop, mode],
        lambda port: [str(LOADGEN), "tcp-load", f"127.0.0.1:{port}"],
    )
    trips = int(out.split()[1])
    return trips / 5.0, used / trips * 1e6


def medians_by_loop(
    loops: dict[str, str], rounds: int, sample: Callable[[str, str], tuple[float, float]]
) -> dict[str, tuple[float, float] | str]:
    """``sample(interpreter, loop)`` for every loop, ``rounds`` times,
    the loops' order rotated each round; the medians of both numbers, or
    for a loop whose sample failed (its server did not start or serve),
    why, and it is not sampled again."""
    names = list(loops)
    got: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    failed: dict[str, str] = {}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if name in failed:
                continue
            try:
                got[name].append(sample(loops[name], name))
            except (subprocess.CalledProcessError, ValueError, RuntimeError) as exc:
                failed[name] = f"failed: {type(exc).__name__}"
                print(f"{name}: {exc}", file=sys.stderr)
    return {
        n: failed.get(n) or (statistics.median(x for x, _ in v), statistics.median(y for _, y in v))
        for n, v in got.items()
    }


def cell(result: tuple[float, float] | str, user_digits: int) -> str:
    """A table cell: the rate and, in brackets, user µs per operation."""
    if isinstance(result, str):
        return result
    rate, user = result
    return f"{rate:,.0f} ({user:.{user_digits}f})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", action="append", required=True, help="LOOP=INTERPRETER")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=("protocol", "streams"), action="append")
    args = parser.parse_args()
    loops = dict(p.split("=", 1) for p in args.python)
    print("| echo | " + " | ".join(f"{n} rt/s (user µs/rt)" for n in loops) + " |")
    print("|---" * (len(loops) + 1) + "|")
    for mode in args.mode or ("protocol", "streams"):
        med = medians_by_loop(loops, args.rounds, lambda py, loop: one(py, loop, mode))  # noqa: B023
        cells = [cell(result, 2) for result in med.values()]
        print(f"| {mode} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
