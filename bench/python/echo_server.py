"""An echo server on one loop (asyncio, uvloop, rloop, rsloop or corio),
as a ``Protocol`` (default) or with asyncio streams (``streams``): prints
its port, then serves until killed, or (``--exit-after N``, Protocol only)
until N connections have closed. The same code for every loop.

    python echo_server.py LOOP [protocol|streams] [--exit-after N]
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from loop_rows import new_loop

EXIT_AFTER = 0  # connections to serve before stopping the loop (0: never)
closed = 0


class Echo(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        global closed
        closed += 1
        if closed == EXIT_AFTER:
            asyncio.get_event_loop().stop()


async def echo_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def start_streams() -> asyncio.AbstractServer:
    return await asyncio.start_server(echo_stream, "127.0.0.1", 0)


def main() -> None:
    global EXIT_AFTER
    if "--exit-after" in sys.argv:
        at = sys.argv.index("--exit-after")
        EXIT_AFTER = int(sys.argv[at + 1])
        del sys.argv[at : at + 2]
    loop = new_loop(sys.argv[1])
    asyncio.set_event_loop(loop)
    if sys.argv[2:3] == ["streams"]:
        # Called from a coroutine on the loop: rsloop replaces
        # asyncio.start_server with a function that needs a running loop.
        start = start_streams()
    else:
        start = loop.create_server(Echo, "127.0.0.1", 0)
    server = loop.run_until_complete(start)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
