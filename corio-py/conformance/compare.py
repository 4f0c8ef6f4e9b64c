"""The conformance bar: every test that passes on the stock loop (in all
three recorded runs) passes on corio's.

    python compare.py corio.json expected/stock-3.11.json

Exits 1, naming the tests, if one that passes on the stock loop fails,
errors or hangs on corio. Exempt tests (a private attribute of the stock
loop) are listed in expected/exempt.txt with that attribute.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    corio = json.loads(Path(sys.argv[1]).read_text())
    stock_passing = set(json.loads(Path(sys.argv[2]).read_text()))
    exempt_file = Path(__file__).parent / "expected" / "exempt.txt"
    exempt = set()
    if exempt_file.exists():
        for line in exempt_file.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                exempt.add(line.split()[0])
    regressions = []
    for report in corio.values():
        for name, status in report["tests"].items():
            if name in stock_passing and status != "pass" and name not in exempt:
                regressions.append(f"{name}: {status} on corio, passes on the stock loop")
    # A stock-passing test of a module that ran must have run on corio too
    # (a module whose runner died reports no tests at all).
    for name in sorted(stock_passing - exempt):
        report = corio.get(name.split(".")[2])
        if report is not None and name not in report["tests"]:
            regressions.append(f"{name}: did not run on corio, passes on the stock loop")
    for module, report in corio.items():
        if report.get("fds") is None:
            regressions.append(f"{module}: its runner did not finish (no descriptor count)")
    for module, report in corio.items():
        fds = report.get("fds")
        if fds and fds[1] > fds[0]:
            regressions.append(f"{module}: {fds[1] - fds[0]} descriptor(s) left open")
    for line in regressions:
        print(line)
    if regressions:
        print(f"{len(regressions)} test(s) pass on the stock loop but not on corio")
        return 1
    print(
        f"conformance: every stock-passing test of {len(corio)} module(s) passes on corio "
        f"({len(exempt)} exempt)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
