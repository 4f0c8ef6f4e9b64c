"""dask.distributed from an asyncio program on corio's loop: CPU-bound
calls sent to a LocalCluster's worker processes through
``run_in_executor``."""

from __future__ import annotations

import asyncio

import corio
from conftest import assert_corio


def cpu_bound(n: int) -> int:
    return sum(i * i for i in range(n))


def test_two_hundred_cpu_bound_calls_on_a_local_cluster():
    from distributed import Client, LocalCluster

    async def main():
        assert_corio()
        async with (
            LocalCluster(
                n_workers=2,
                processes=True,
                threads_per_worker=1,
                asynchronous=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster, asynchronous=True) as client,
        ):
            loop = asyncio.get_running_loop()
            executor = client.get_executor()
            results = await asyncio.gather(
                *(loop.run_in_executor(executor, cpu_bound, 20_000 + i) for i in range(200))
            )
        assert results == [cpu_bound(20_000 + i) for i in range(200)]

    corio.run(main())


def test_the_demo_sends_its_cpu_jobs_to_a_cluster():
    """``python -m corio.demo --dask ADDRESS`` against a LocalCluster."""
    import re
    import subprocess
    import sys

    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        done = subprocess.run(
            [
                sys.executable, "-m", "corio.demo", "--requests", "4", "--jobs", "4",
                "--limit", "50000", "--dask", cluster.scheduler_address,
            ],
            capture_output=True,
            check=False,
            text=True,
            timeout=180,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    row = re.search(
        r"^CPU jobs on dask \((\S+)\)\s+[\d.]+m?s\s+[\d.]+x$", done.stdout, re.MULTILINE
    )
    assert row is not None and row.group(1) == cluster.scheduler_address, done.stdout
