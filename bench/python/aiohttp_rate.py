"""Requests per second of aiohttp's hello world, per loop: the server
pinned to core 0, wrk (1 thread, 50 connections, 5 s) pinned to core 1;
the server's user CPU per request from /proc. Loops alternate, medians of
the rounds.

    python bench/python/aiohttp_rate.py --python corio=PY --python uvloop=PY ... [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from echo_rate import cell, medians_by_loop, serve_and_load

HERE = Path(__file__).resolve().parent


def one(python: str, loop: str) -> tuple[float, float]:
    """One sample: requests per second and user µs per request."""
    out, used = serve_and_load(
        [python, str(HERE / "aiohttp_server.py"), loop],
        lambda port: [
            *("taskset", "-c", "1", "wrk", "-t1", "-c50", "-d5s"),
            f"http://127.0.0.1:{port}/",
        ],
    )
    match = re.search(r"(\d+) requests in", out)
    if match is None or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk against {loop} did not run cleanly:\n{out}")
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
    cells = [cell(result, 1) for result in med.values()]
    print("| wrk -t1 -c50 -d5s | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
