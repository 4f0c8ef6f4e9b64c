"""Rust and Python awaiting each other: what one await across the languages
costs beyond the same await within one, on corio's loop, through corio-ext
and through pyo3-async-runtimes with tokio (both in the example extension
``corio_example_ext``).

(a) A Python coroutine awaits a Rust future that is ready after one loop
    turn (``ext.yield_once()`` / ``ext.tokio_yield_once()``), beside a
    Python future completed after one turn (``call_soon(fut.set_result)``).
(b) A Rust task awaits, one after another, Python coroutines that each
    return after one ``await asyncio.sleep(0)`` (``ext.await_each`` /
    ``ext.tokio_await_each``), beside a Python coroutine awaiting tasks of
    the same coroutine (the Rust side wraps each in a task too).

Every sample is a fresh process; cases alternate (order rotated per round);
medians printed. Not pinned to one core: pyo3-async-runtimes runs its
futures on tokio's worker threads by design.

    python bench/python/interop.py [--rounds 5] [--n 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

CASES = {
    "a-python": "(a) Python future, one turn",
    "a-corio": "(a) Rust future via corio-ext",
    "a-tokio": "(a) Rust future via pyo3-async-runtimes",
    "b-python": "(b) Python awaits a task",
    "b-corio": "(b) Rust task via corio-ext",
    "b-tokio": "(b) tokio task via pyo3-async-runtimes",
}


async def one_turn() -> None:
    await asyncio.sleep(0)


async def measure(case: str, n: int) -> float:
    import corio_example_ext as ext

    loop = asyncio.get_running_loop()

    def py_yield_once() -> asyncio.Future[None]:
        fut = loop.create_future()
        loop.call_soon(fut.set_result, None)
        return fut

    start = time.perf_counter()
    if case == "a-python":
        for _ in range(n):
            await py_yield_once()
    elif case == "a-corio":
        for _ in range(n):
            await ext.yield_once()
    elif case == "a-tokio":
        for _ in range(n):
            await ext.tokio_yield_once()
    elif case == "b-python":
        for _ in range(n):
            await loop.create_task(one_turn())
    elif case == "b-corio":
        await ext.await_each(one_turn, n)
    elif case == "b-tokio":
        await ext.tokio_await_each(one_turn, n)
    else:
        raise SystemExit(f"unknown case {case!r}")
    return (time.perf_counter() - start) / n * 1e6


def child(case: str, n: int) -> None:
    import corio

    corio.run(measure(case, n // 10))  # warm-up
    print(corio.run(measure(case, n)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n)
        return
    samples: dict[str, list[float]] = {c: [] for c in CASES}
    names = list(CASES)
    for r in range(args.rounds):
        for case in names[r % len(names) :] + names[: r % len(names)]:
            n = args.n if not case.endswith("tokio") else args.n // 10
            out = subprocess.run(
                [sys.executable, __file__, "--child", case, "--n", str(n)],
                check=True,
                capture_output=True,
                text=True,
            )
            samples[case].append(float(out.stdout.split()[-1]))
    med = {c: statistics.median(v) for c, v in samples.items()}
    print("| case | µs per await | beyond the same await in Python (µs) |")
    print("|---|---:|---:|")
    for case, label in CASES.items():
        base = med[case[0] + "-python"]
        extra = "" if case.endswith("python") else f"{med[case] - base:+.3f}"
        print(f"| {label} | {med[case]:.3f} | {extra} |")


if __name__ == "__main__":
    main()
