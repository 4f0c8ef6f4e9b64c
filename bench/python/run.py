"""The asyncio loops side by side: every row on every loop, each sample in a
fresh process pinned to one core, loops alternating (order rotated per
round), medians printed with each loop's ratio to uvloop.

    python bench/python/run.py --python asyncio=PY --python uvloop=PY --python corio=PY [--rounds 5]

Each ``--python`` names the interpreter to run that loop with (corio's
venv must not have uvloop installed, so the loops may come from different
venvs of the same CPython). ``bench/python/run.sh`` sets them up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from loop_rows import ROWS


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", action="append", required=True, help="LOOP=INTERPRETER")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu", default="1")
    args = parser.parse_args()
    loops = dict(p.split("=", 1) for p in args.python)
    names = list(loops)
    samples: dict[tuple[str, str], list[float]] = {}
    for row in ROWS:
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                cmd = [
                    "taskset",
                    "-c",
                    args.cpu,
                    loops[name],
                    str(HERE / "loop_rows.py"),
                    name,
                    row,
                ]
                out = subprocess.run(
                    cmd, check=True, capture_output=True, text=True, env=os.environ
                )
                samples.setdefault((row, name), []).append(float(out.stdout))
    header = "| row | " + " | ".join(f"{n} µs/op" for n in names)
    if "uvloop" in names:
        header += " | " + " | ".join(f"uvloop/{n}" for n in names if n != "uvloop")
    header += " |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for row in ROWS:
        med = {n: statistics.median(samples[(row, n)]) for n in names}
        cells = [f"{med[n]:.3f}" for n in names]
        if "uvloop" in names:
            cells += [f"{med['uvloop'] / med[n]:.2f}x" for n in names if n != "uvloop"]
        print(f"| {row} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
