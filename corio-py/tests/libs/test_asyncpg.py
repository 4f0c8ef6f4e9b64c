"""asyncpg against a real PostgreSQL server (started by the fixture), on
corio's loop."""

from __future__ import annotations

import asyncio

import asyncpg
import corio
from conftest import assert_corio


def test_a_pool_of_ten_runs_ten_thousand_queries_from_fifty_tasks(postgres):
    async def main():
        async with asyncpg.create_pool(postgres, min_size=10, max_size=10) as pool:

            async def worker(w: int) -> int:
                assert_corio()
                total = 0
                for i in range(200):
                    async with pool.acquire() as conn:
                        total += await conn.fetchval("SELECT $1::int + $2::int", w, i)
                return total

            totals = await asyncio.gather(*(worker(w) for w in range(50)))
        assert totals == [200 * w + sum(range(200)) for w in range(50)]

    corio.run(main())


def test_a_transaction_cancelled_midway_is_rolled_back(postgres):
    async def main():
        conn = await asyncpg.connect(postgres)
        await conn.execute("DROP TABLE IF EXISTS t; CREATE TABLE t (x int)")
        started = asyncio.Event()

        async def transaction() -> None:
            other = await asyncpg.connect(postgres)
            try:
                async with other.transaction():
                    await other.execute("INSERT INTO t VALUES (1)")
                    started.set()
                    await other.execute("SELECT pg_sleep(30)")
                    await other.execute("INSERT INTO t VALUES (2)")
            finally:
                await other.close()

        task = asyncio.create_task(transaction())
        await started.wait()
        await asyncio.sleep(0.1)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert await conn.fetchval("SELECT count(*) FROM t") == 0
        await conn.close()

    corio.run(main())


def test_listen_notify(postgres):
    async def main():
        listener = await asyncpg.connect(postgres)
        got: asyncio.Queue[str] = asyncio.Queue()

        def on_notify(connection, pid, channel, payload) -> None:
            assert_corio()
            got.put_nowait(payload)

        await listener.add_listener("corio", on_notify)
        sender = await asyncpg.connect(postgres)
        for i in range(20):
            await sender.execute(f"NOTIFY corio, 'n{i}'")
        assert [await asyncio.wait_for(got.get(), 10) for _ in range(20)] == [
            f"n{i}" for i in range(20)
        ]
        await sender.close()
        await listener.close()

    corio.run(main())
