"""Writes expected/stock-X.Y.json: the tests that passed on the stock loop
in every one of the given runs (run.py --loop stock --json).

    python record_stock.py 3.11 run1.json run2.json run3.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    version, runs = sys.argv[1], sys.argv[2:]
    passing: set[str] | None = None
    for run in runs:
        report = json.loads(Path(run).read_text())
        here = {n for m in report.values() for n, s in m["tests"].items() if s == "pass"}
        passing = here if passing is None else passing & here
    out = Path(__file__).parent / "expected" / f"stock-{version}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(sorted(passing or []), indent=0) + "\n")
    print(f"{out}: {len(passing or [])} tests pass on the stock loop in {len(runs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
