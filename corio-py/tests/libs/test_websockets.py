"""websockets' server and client on corio's loop."""

from __future__ import annotations

import asyncio

import corio
import websockets
from conftest import assert_corio


def test_a_hundred_connections_a_hundred_messages_each():
    async def main():
        async def echo(ws) -> None:
            assert_corio()
            async for message in ws:
                await ws.send(message)

        async with websockets.serve(echo, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]

            async def client(c: int) -> int:
                async with websockets.connect(f"ws://127.0.0.1:{port}") as ws:
                    for i in range(100):
                        await ws.send(f"{c}:{i}")
                        assert await ws.recv() == f"{c}:{i}"
                return c

            done = await asyncio.gather(*(client(c) for c in range(100)))
        assert sorted(done) == list(range(100))

    corio.run(main())
