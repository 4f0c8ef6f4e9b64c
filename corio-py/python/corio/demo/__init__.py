"""``python -m corio.demo``: asyncio's two lessons, on corio's loop.

Plain asyncio code (nothing corio-specific but the loop it runs on):

1. **I/O-bound work gains from concurrency on one thread.** A local HTTP
   server (``asyncio.start_server``) answers each ``/item/N`` after 50-200
   ms; the demo fetches 200 of them one after another, then 50 at a time
   (``asyncio.gather`` under a semaphore), on one thread.
2. **CPU-bound work does not; it needs more cores.** A job counting primes
   runs 4 times one after another, on threads (``asyncio.to_thread``: one
   interpreter lock, so no faster), and on processes (``run_in_executor``
   with a ``ProcessPoolExecutor``). With ``--dask ADDRESS`` the jobs also go
   to a dask.distributed cluster through its ``concurrent.futures``
   executor, the way an asyncio program hands CPU work past one machine.

Progress bars go to standard error (when it is a terminal, or with
``--bars``), the closing table to standard output. ``--help`` lists the
knobs (number of requests, delays, jobs, the job's size).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable

import corio

# -- the slow HTTP server ----------------------------------------------


def delay_of(item: int, low: float, high: float) -> float:
    """How long the server takes to answer ``/item/N`` (the same each run)."""
    return random.Random(item).uniform(low, high)


def body_of(item: int) -> bytes:
    return b"item %d\n" % item


async def start_server(low: float, high: float) -> asyncio.Server:
    """An HTTP/1.1 server on a free loopback port that answers
    ``GET /item/N`` after ``delay_of(N)`` seconds."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # headers
            parts = request.split()
            path = parts[1].decode() if len(parts) >= 2 else ""
            if path.startswith("/item/") and path[6:].isdigit():
                item = int(path[6:])
                await asyncio.sleep(delay_of(item, low, high))
                status, body = b"200 OK", body_of(item)
            else:
                status, body = b"404 Not Found", b"not found\n"
            writer.write(
                b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s" % (status, len(body), body)
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def fetch(port: int, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
    """``GET http://127.0.0.1:port/path``: the status code and the body
    (``TimeoutError`` after ``timeout`` seconds)."""

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            return await reader.read()
        finally:
            writer.close()

    response = await asyncio.wait_for(exchange(), timeout)
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, body


# -- the CPU-bound job ---------------------------------------------------


def count_primes(limit: int) -> int:
    """How many primes are below ``limit`` (trial division: pure CPU)."""
    count = 0
    for n in range(2, limit):
        if n % 2 == 0:
            count += n == 2
            continue
        d = 3
        while d * d <= n:
            if n % d == 0:
                break
            d += 2
        else:
            count += 1
    return count


# -- progress bars and the table -------------------------------------------


class Progress:
    """A text progress bar on standard error: ``label [====    ] k/n mm:ss``."""

    WIDTH = 40

    def __init__(self, label: str, total: int, enabled: bool = True) -> None:
        self.label, self.total, self.done, self.enabled = label, total, 0, enabled
        self.start = time.perf_counter()
        self._draw()

    def advance(self) -> None:
        self.done += 1
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        filled = self.WIDTH * self.done // max(self.total, 1)
        secs = int(time.perf_counter() - self.start)
        bar = "=" * filled + " " * (self.WIDTH - filled)
        end = "\n" if self.done == self.total else ""
        sys.stderr.write(
            f"\r{self.label:>26} [{bar}] {self.done}/{self.total} "
            f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}{end}"
        )
        sys.stderr.flush()


def fmt_time(seconds: float) -> str:
    return f"{seconds:.2f}s" if seconds >= 1 else f"{seconds * 1000:.2f}ms"


# -- the demo ------------------------------------------------------------


async def io_lesson(args: argparse.Namespace, rows: list[tuple[str, float, str]]) -> None:
    server = await start_server(args.min_delay, args.max_delay)
    port = server.sockets[0].getsockname()[1]
    n = args.requests
    say(
        f"Local HTTP server on http://127.0.0.1:{port}/ answers each /item/N "
        f"in {args.min_delay * 1000:.0f}-{args.max_delay * 1000:.0f} ms.\n\n"
    )
    say(
        f"1. The I/O-bound lesson: {n} requests, one after another, then "
        f"{args.concurrency} at a time.\n"
    )

    def check(results: list[tuple[int, bytes]]) -> str:
        ok = sum(r == (200, body_of(i)) for i, r in enumerate(results))
        return f"{ok}/{n} ok"

    async with server:
        progress = Progress("one after another", n, args.bars)
        start = time.perf_counter()
        seq = []
        for i in range(n):
            seq.append(await fetch(port, f"/item/{i}"))
            progress.advance()
        seq_time = time.perf_counter() - start
        rows.append(("requests one after another", seq_time, check(seq)))

        gate = asyncio.Semaphore(args.concurrency)
        progress = Progress("concurrently (gather)", n, args.bars)

        async def limited(i: int) -> tuple[int, bytes]:
            async with gate:
                result = await fetch(port, f"/item/{i}")
            progress.advance()
            return result

        start = time.perf_counter()
        con = await asyncio.gather(*(limited(i) for i in range(n)))
        con_time = time.perf_counter() - start
        rows.append(
            (
                f"requests {args.concurrency} at a time",
                con_time,
                f"{check(list(con))}, {seq_time / con_time:.1f}x faster",
            )
        )


async def cpu_lesson(args: argparse.Namespace, rows: list[tuple[str, float, str]]) -> None:
    loop = asyncio.get_running_loop()
    cores = os.cpu_count() or 1
    jobs, limit = args.jobs, args.limit
    expected = count_primes(limit) if jobs else 0
    say(f"\n2. The CPU-bound lesson: {jobs} jobs counting primes below {limit} on {cores} cores.\n")

    async def run_all(label: str, submit: Callable[[], Awaitable[int]]) -> float:
        # All jobs at once; each finished one moves the bar.
        progress = Progress(label, jobs, args.bars)

        async def one() -> int:
            result = await submit()
            progress.advance()
            return result

        start = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(jobs)))
        elapsed = time.perf_counter() - start
        if any(r != expected for r in results):
            raise RuntimeError(f"{label}: wrong result {results} (expected {expected})")
        return elapsed

    async def direct() -> int:
        return count_primes(limit)  # blocks the loop: one after another

    base = await run_all("one after another", direct)
    rows.append(("CPU jobs one after another", base, "1.0x"))
    t = await run_all("threads (to_thread)", lambda: asyncio.to_thread(count_primes, limit))
    rows.append(("CPU jobs on threads", t, f"{base / t:.1f}x"))
    # "spawn": the workers start clean, not as forks of a threaded process.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(cores, mp_context=context) as pool:
        # Start the workers before timing (a cold start is not the lesson).
        await asyncio.gather(*(loop.run_in_executor(pool, count_primes, 10) for _ in range(cores)))
        t = await run_all("process pool", lambda: loop.run_in_executor(pool, count_primes, limit))
    rows.append(("CPU jobs on processes", t, f"{base / t:.1f}x"))
    if args.dask:
        try:
            from distributed import Client  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise SystemExit("--dask needs dask.distributed: pip install distributed") from None
        async with Client(args.dask, asynchronous=True) as client:
            executor = client.get_executor()
            t = await run_all(
                "dask cluster", lambda: loop.run_in_executor(executor, count_primes, limit)
            )
        rows.append((f"CPU jobs on dask ({args.dask})", t, f"{base / t:.1f}x"))


def say(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    await io_lesson(args, rows)
    await cpu_lesson(args, rows)
    loop_name = type(asyncio.get_running_loop()).__module__
    say(f"\n{'':36}{'time':>10}    (loop: {loop_name})\n")
    for label, seconds, note in rows:
        say(f"{label:<36}{fmt_time(seconds):>10}   {note}\n")
    say(
        "\nWaiting overlaps on one thread; computing needs more cores: Python's "
        "threads share one interpreter lock, processes do not.\n"
    )
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m corio.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=int, default=200, help="URLs to fetch (200)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests at a time (50)")
    parser.add_argument("--min-delay", type=float, default=0.05, help="fastest answer, s (0.05)")
    parser.add_argument("--max-delay", type=float, default=0.2, help="slowest answer, s (0.2)")
    parser.add_argument("--jobs", type=int, default=4, help="CPU-bound jobs (4)")
    parser.add_argument("--limit", type=int, default=500_000, help="primes below this (500000)")
    parser.add_argument(
        "--dask", metavar="ADDRESS", help="also run the jobs on this dask scheduler"
    )
    parser.add_argument(
        "--bars",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars on standard error (default: when it is a terminal)",
    )
    args = parser.parse_args(argv)
    if args.bars is None:
        args.bars = sys.stderr.isatty()
    if args.requests < 1 or args.concurrency < 1 or args.jobs < 1 or args.limit < 2:
        parser.error("--requests, --concurrency and --jobs must be at least 1, --limit at least 2")
    if not 0 <= args.min_delay <= args.max_delay:
        parser.error("need 0 <= --min-delay <= --max-delay")
    return args


def run(argv: list[str] | None = None) -> list[tuple[str, float, str]]:
    """Runs the demo on a corio loop; returns the table's rows."""
    return corio.run(main(parse(argv)))
