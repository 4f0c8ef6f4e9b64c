"""aiohttp's hello world on one loop (asyncio, uvloop, rloop or corio):
prints its port, then serves until killed. The same code for every loop.

    python aiohttp_server.py LOOP
"""

from __future__ import annotations

import asyncio
import socket
import sys

from aiohttp import web

from loop_rows import new_loop


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, World!")


def main() -> None:
    loop = new_loop(sys.argv[1])
    asyncio.set_event_loop(loop)
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]  # the site takes the socket over
    site = web.SockSite(runner, sock)
    loop.run_until_complete(site.start())
    print(port, flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
