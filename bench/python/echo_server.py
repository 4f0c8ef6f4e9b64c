"""A Protocol echo server on one loop (asyncio, uvloop or corio): prints
its port, then serves until killed. The same code for every loop."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from loop_rows import new_loop


class Echo(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


def main() -> None:
    loop = new_loop(sys.argv[1])
    server = loop.run_until_complete(loop.create_server(Echo, "127.0.0.1", 0))
    print(server.sockets[0].getsockname()[1], flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
