"""The loop's I/O backend, chosen by ``CORIO_IO_BACKEND``: the suite runs once
on epoll and once on io_uring in CI, and this module asserts which ran."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import corio

ECHO = textwrap.dedent(
    """
    import asyncio, corio

    async def main():
        async def handle(reader, writer):
            writer.write(await reader.read())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = bytes(range(256)) * 4096
        writer.write(payload)
        writer.write_eof()
        echoed = await asyncio.wait_for(reader.read(), 10)
        assert echoed == payload, len(echoed)
        writer.close()
        server.close()
        await server.wait_closed()
        print(asyncio.get_running_loop().io_backend())

    corio.run(main())
    """
)


def run(code: str, backend: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CORIO_IO_BACKEND=backend)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        env=env,
    )


def test_the_loop_runs_on_the_backend_the_environment_asks_for():
    asked = os.environ.get("CORIO_IO_BACKEND", "") or "epoll"
    loop = corio.new_event_loop()
    try:
        assert loop.io_backend() == asked
    finally:
        loop.close()


def test_each_backend_serves_a_stream_echo_without_loss():
    for backend in ("epoll", "io_uring"):
        done = run(ECHO, backend)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == backend


def test_an_unknown_backend_is_an_oserror_that_names_the_choices():
    done = run("import corio; corio.new_event_loop()", "kqueue")
    assert done.returncode != 0
    assert "OSError" in done.stderr
    assert '"epoll"' in done.stderr and '"io_uring"' in done.stderr
