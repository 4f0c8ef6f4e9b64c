"""One benchmark row on one event loop, in this (fresh) process; prints
microseconds per operation. Every loop runs the same code.

    python loop_rows.py LOOP ROW      # LOOP: asyncio | uvloop | rloop | rsloop | corio | corio-uring
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Callable


def new_loop(which: str) -> asyncio.AbstractEventLoop:
    if which in ("corio", "corio-uring"):
        import corio

        if which == "corio-uring":  # the same loop on the io_uring backend
            os.environ["CORIO_IO_BACKEND"] = "io_uring"
        return corio.new_event_loop()
    if which == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    if which == "rloop":
        import rloop

        return rloop.new_event_loop()
    if which == "rsloop":
        import rsloop

        return rsloop.new_event_loop()
    return asyncio.new_event_loop()


def call_soon_chain(loop: asyncio.AbstractEventLoop, n: int = 200_000) -> float:
    left = n

    def step() -> None:
        nonlocal left
        left -= 1
        if left:
            loop.call_soon(step)
        else:
            loop.stop()

    loop.call_soon(step)
    start = time.perf_counter()
    loop.run_forever()
    return (time.perf_counter() - start) / n


def sleep_zero(loop: asyncio.AbstractEventLoop, n: int = 200_000) -> float:
    async def main() -> None:
        for _ in range(n):
            await asyncio.sleep(0)

    start = time.perf_counter()
    loop.run_until_complete(main())
    return (time.perf_counter() - start) / n


def future_round_trip(loop: asyncio.AbstractEventLoop, n: int = 100_000) -> float:
    async def main() -> None:
        for _ in range(n):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, None)
            await fut

    start = time.perf_counter()
    loop.run_until_complete(main())
    return (time.perf_counter() - start) / n


def call_later_timers(loop: asyncio.AbstractEventLoop, n: int = 200_000) -> float:
    rng = random.Random(1)
    delays = [rng.random() * 0.002 for _ in range(n)]
    fired = 0

    def fire() -> None:
        nonlocal fired
        fired += 1
        if fired == n:
            loop.stop()

    start = time.perf_counter()
    for delay in delays:
        loop.call_later(delay, fire)
    loop.run_forever()
    return (time.perf_counter() - start) / n


def call_soon_batch(loop: asyncio.AbstractEventLoop, n: int = 200_000) -> float:
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1

    start = time.perf_counter()
    for _ in range(n // 1000):
        for _ in range(1000):
            loop.call_soon(tick)
        loop.call_soon(loop.stop)
        loop.run_forever()
    assert done == n
    return (time.perf_counter() - start) / n


def gather_coroutines(loop: asyncio.AbstractEventLoop, n: int = 100_000) -> float:
    async def leaf() -> None:
        await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(leaf() for _ in range(n)))

    start = time.perf_counter()
    loop.run_until_complete(main())
    return (time.perf_counter() - start) / n


def create_task(loop: asyncio.AbstractEventLoop, n: int = 100_000) -> float:
    async def leaf() -> None:
        pass

    async def main() -> None:
        tasks = [loop.create_task(leaf()) for _ in range(n)]
        for t in tasks:
            await t

    start = time.perf_counter()
    loop.run_until_complete(main())
    return (time.perf_counter() - start) / n


def run_in_executor(loop: asyncio.AbstractEventLoop, n: int = 20_000) -> float:
    async def main() -> None:
        for _ in range(n):
            await loop.run_in_executor(None, int)

    start = time.perf_counter()
    loop.run_until_complete(main())
    return (time.perf_counter() - start) / n


def call_later_cancel(loop: asyncio.AbstractEventLoop, n: int = 200_000) -> float:
    def never() -> None:
        raise AssertionError("a cancelled timer ran")

    start = time.perf_counter()
    for _ in range(n):
        loop.call_later(10, never).cancel()
    loop.run_until_complete(asyncio.sleep(0))
    return (time.perf_counter() - start) / n


ROWS: dict[str, Callable[[asyncio.AbstractEventLoop], float]] = {
    "call_soon chain": call_soon_chain,
    "call_soon batch of 1000": call_soon_batch,
    "sleep(0)": sleep_zero,
    "future round trip": future_round_trip,
    "200k call_later over 0-2 ms": call_later_timers,
    "call_later + cancel": call_later_cancel,
    "gather 100k coroutines": gather_coroutines,
    "create_task": create_task,
    "run_in_executor round trip": run_in_executor,
}


def main() -> int:
    which, row = sys.argv[1], sys.argv[2]
    loop = new_loop(which)
    try:
        ROWS[row](loop)  # warm-up
        print(f"{ROWS[row](loop) * 1e6:.4f}")
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
