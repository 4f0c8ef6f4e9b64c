"""Rewrites the conformance table in a Markdown file (between the markers
``<!-- conformance:start -->`` and ``<!-- conformance:end -->``) from the
recorded runs: corio's (``target/conformance-X.Y.json``), the stock loop's
pass list (``expected/stock-X.Y.json``) and uvloop's run
(``expected/uvloop-X.Y.json``).

    python table.py README.md
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
START, END = "<!-- conformance:start -->", "<!-- conformance:end -->"


def names(path: Path) -> set[str]:
    return {
        line.split()[0]
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }


def module_of(test: str) -> str:
    return test.split(".")[2]


def rows(version: str, exempt: set[str]) -> list[str]:
    corio = json.loads((ROOT / "target" / f"conformance-{version}.json").read_text())
    stock = set(json.loads((HERE / "expected" / f"stock-{version}.json").read_text()))
    uv_path = HERE / "expected" / f"uvloop-{version}.json"
    uvloop = json.loads(uv_path.read_text()) if uv_path.exists() else {}
    out = []
    for module in sorted(corio):
        tests = corio[module]["tests"]
        stock_here = {t for t in stock if module_of(t) == module}
        passed = sum(1 for s in tests.values() if s == "pass")
        missing = {t for t in stock_here if tests.get(t) != "pass"}
        n_exempt = len({t for t in missing if t in exempt})
        failed = len(missing) - n_exempt
        ran = len(tests)
        if module in uvloop:
            c = uvloop[module]["counts"]
            uv = f"{c['pass']} | {c['fail'] + c['error']} | {c['hung']}"
        else:
            uv = "- | - | -"
        on = corio[module]["counts"]["on_corio"]
        out.append(
            f"| {version} | {module} | {ran} | {on} | {len(stock_here)} | {passed} | "
            f"{n_exempt} | **{failed}** | {uv} |"
        )
    return out


def main() -> int:
    target = Path(sys.argv[1])
    exempt = names(HERE / "expected" / "exempt.txt")
    # conformance-X.Y.json is the epoll run; conformance-X.Y-io_uring.json
    # (the same tests on io_uring) is held to the same list by compare.py.
    runs = (ROOT / "target").glob("conformance-*.json")
    versions = sorted(
        (p.stem.split("-")[1] for p in runs if p.stem.count("-") == 1),
        key=lambda v: tuple(map(int, v.split("."))),
    )
    header = (
        "| Python | module | tests run | on a corio loop | stock passed (3 of 3 runs) "
        "| corio passed | exempt | corio failed | uvloop passed | uvloop failed "
        "| uvloop hung |"
    )
    lines = [
        START,
        header,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for version in versions:
        lines += rows(version, exempt)
    lines.append(END)
    text = target.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        sys.exit(f"{target}: no {START} ... {END} markers")
    target.write_text(pattern.sub(lambda _: "\n".join(lines), text))
    print(f"{target}: table for {', '.join(versions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
