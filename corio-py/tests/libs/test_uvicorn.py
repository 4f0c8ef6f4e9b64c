"""uvicorn serving a Starlette app on corio's loop (started
programmatically, so uvicorn installs no loop of its own), loaded by wrk
for a fixed time with no error."""

from __future__ import annotations

import asyncio
import re
import shutil

import corio
import uvicorn
from conftest import assert_corio
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


def test_uvicorn_and_starlette_under_wrk_with_no_error():
    wrk = shutil.which("wrk")
    assert wrk, "wrk is not installed: run scripts/ensure-services.sh (Debian's wrk)"
    served = 0

    async def home(request):
        nonlocal served
        assert_corio()
        served += 1
        return PlainTextResponse("hello")

    async def item(request):
        assert_corio()
        return JSONResponse({"id": int(request.path_params["id"])})

    app = Starlette(routes=[Route("/", home), Route("/items/{id}", item)])

    async def main():
        config = uvicorn.Config(app, host="127.0.0.1", port=0, loop="none", log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            wrk,
            "-t1",
            "-c50",
            "-d5s",
            f"http://127.0.0.1:{port}/",
            stdout=asyncio.subprocess.PIPE,
        )
        out = (await proc.communicate())[0].decode()
        assert proc.returncode == 0, out
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        assert requests > 1000, out
        assert "Socket errors" not in out and "Non-2xx" not in out, out
        assert served >= requests
        server.should_exit = True
        await task
        return requests

    corio.run(main())
