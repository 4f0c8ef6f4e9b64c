"""Requests per second of aiohttp's hello world, per loop: the server
pinned to core 0, wrk (1 thread, 50 connections, 5 s) pinned to core 1;
the server's user CPU per request from /proc. Loops alternate, medians of
the rounds.

    python bench/python/aiohttp_rate.py --python corio=PY --python uvloop=PY ... [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from echo_rate import medians_by_loop, user_seconds

HERE = Path(__file__).resolve().parent


def one(python: str, loop: str) -> tuple[float, float]:
    """One sample: requests per second and user µs per request."""
    server = subprocess.Popen(
        ["taskset", "-c", "0", python, str(HERE / "aiohttp_server.py"), loop],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        before = user_seconds(server.pid)
        out = subprocess.run(
            ["taskset", "-c", "1", "wrk", "-t1", "-c50", "-d5s", f"http://127.0.0.1:{port}/"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        used = user_seconds(server.pid) - before
    finally:
        server.kill()
        server.wait()
    match = re.search(r"(\d+) requests in", out)
    if match is None or "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk against {loop} did not run cleanly:\n{out}")
    requests = int(match.group(1))
    return requests / 5.0, used / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", action="append", required=True, help="LOOP=INTERPRETER")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    loops = dict(p.split("=", 1) for p in args.python)
    med = medians_by_loop(loops, args.rounds, one)
    print("| aiohttp hello world | " + " | ".join(f"{n} req/s (user µs/req)" for n in loops) + " |")
    print("|---" * (len(loops) + 1) + "|")
    cells = [f"{rate:,.0f} ({user:.1f})" for rate, user in med.values()]
    print("| wrk -t1 -c50 -d5s | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
