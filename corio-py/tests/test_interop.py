"""Rust futures and Python coroutines awaiting each other on corio's loop,
through a separately built extension module (``corio_example_ext``, built
from ``corio-py/examples/rust_ext`` against ``corio-ext``)."""

from __future__ import annotations

import asyncio
import gc

import corio
import corio_example_ext as ext
import pytest


async def after_one_turn(value: object) -> object:
    await asyncio.sleep(0)
    return value


async def raises_after_one_turn() -> None:
    await asyncio.sleep(0)
    raise KeyError("missing")


def test_a_coroutine_awaits_rust_futures():
    async def main():
        assert await ext.yield_once() is None
        # A Rust computation that lets the loop turn between chunks: a
        # Python task keeps running beside it.
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(ticker())
        assert await ext.count_primes(200_000, 5_000) == 17984
        t.cancel()
        assert ticks >= 200_000 // 5_000 - 1
        results = await asyncio.gather(*(ext.count_primes(1000 + i) for i in range(100)))
        assert results[0] == 168 and len(results) == 100

    corio.run(main())


def test_a_rust_task_awaits_python_coroutines_and_sees_their_errors():
    async def main():
        assert await ext.await_each(lambda: after_one_turn("x"), 1000) == "x"
        assert await ext.describe_outcome(after_one_turn(5)) == "ok: 5"
        assert await ext.describe_outcome(raises_after_one_turn()) == ("error: KeyError: 'missing'")
        fut = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, fut.set_result, [1, 2])
        assert await ext.describe_outcome(fut) == "ok: [1, 2]"
        # A Python exception raised to the Rust side and returned as its
        # error comes back to Python as itself.
        with pytest.raises(KeyError, match="missing"):
            await ext.await_each(raises_after_one_turn, 3)

    corio.run(main())


def test_a_rust_future_woken_from_another_thread_completes_on_the_loop():
    async def main():
        # The loop sleeps in epoll meanwhile: the wake must reach it.
        names = await asyncio.gather(*(ext.woken_from_thread(20) for _ in range(20)))
        assert names == ["waker-thread"] * 20

    corio.run(main())


def test_a_panic_is_an_exception_with_its_message():
    async def main():
        with pytest.raises(corio.RustPanic, match="the answer is not 41"):
            await ext.panic_after_yield("the answer is not 41")
        try:
            await ext.panic_after_yield("caught as Exception")
        except Exception as exc:  # noqa: BLE001 (that is the point)
            assert isinstance(exc, corio.RustPanic) and str(exc) == "caught as Exception"
        # The loop goes on.
        assert await ext.yield_once() is None

    corio.run(main())


def test_cancelling_the_python_side_drops_the_rust_future():
    async def main():
        dropped: list[str] = []
        task = asyncio.ensure_future(ext.wait_forever(lambda: dropped.append("cancel")))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ext.wait_forever(lambda: dropped.append("timeout")), 0.05)
        for _ in range(10):  # the destructors run within a few turns
            if len(dropped) == 2:
                break
            await asyncio.sleep(0)
        assert sorted(dropped) == ["cancel", "timeout"]

    corio.run(main())


def test_closing_the_loop_drops_pending_rust_futures():
    dropped: list[int] = []

    async def main():
        asyncio.ensure_future(ext.wait_forever(lambda: dropped.append(1)))
        await asyncio.sleep(0)

    loop = corio.new_event_loop()
    loop.run_until_complete(main())
    loop.close()
    gc.collect()
    assert dropped == [1]


def test_without_a_corio_loop_the_error_says_what_to_do():
    async def main():
        await ext.yield_once()

    with pytest.raises(RuntimeError, match=r"needs a corio loop running: run the program"):
        asyncio.run(main())  # the stock loop


def test_pyo3_async_runtimes_runs_beside_it():
    async def main():
        assert await ext.tokio_yield_once() is None
        assert await ext.tokio_await_each(lambda: after_one_turn(3), 10) == 3

    corio.run(main())
