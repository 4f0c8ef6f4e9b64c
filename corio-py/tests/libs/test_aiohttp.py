"""aiohttp's server and client on corio's loop."""

from __future__ import annotations

import asyncio
import hashlib
import os

import corio
from aiohttp import ClientSession, TCPConnector, WSMsgType, web
from conftest import assert_corio


def make_app(in_flight: asyncio.Event | None = None) -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        assert_corio()
        return web.Response(text="hello")

    async def upload(request: web.Request) -> web.Response:
        assert_corio()
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.content.iter_chunked(65536):
            digest.update(chunk)
            size += len(chunk)
        return web.json_response({"size": size, "sha256": digest.hexdigest()})

    async def download(request: web.Request) -> web.StreamResponse:
        assert_corio()
        size = int(request.query["size"])
        resp = web.StreamResponse()
        resp.content_length = size
        await resp.prepare(request)
        block = bytes(range(256)) * 256  # 64 KiB, a known pattern
        sent = 0
        while sent < size:
            part = block[: min(len(block), size - sent)]
            await resp.write(part)
            sent += len(part)
        await resp.write_eof()
        return resp

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        assert_corio()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data.upper())
        return ws

    async def slow(request: web.Request) -> web.Response:
        assert_corio()
        if in_flight is not None:
            in_flight.set()
        await asyncio.sleep(0.5)
        return web.Response(text="finished")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/", hello)
    app.router.add_post("/upload", upload)
    app.router.add_get("/download", download)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/slow", slow)
    return app


async def start(app: web.Application, ssl_context=None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


def test_two_thousand_requests_at_two_hundred_concurrency():
    async def main():
        runner, port = await start(make_app())
        sem = asyncio.Semaphore(200)
        async with ClientSession(connector=TCPConnector(limit=200)) as session:

            async def one() -> str:
                async with sem, session.get(f"http://127.0.0.1:{port}/") as resp:
                    assert resp.status == 200
                    return await resp.text()

            texts = await asyncio.gather(*(one() for _ in range(2000)))
        assert texts == ["hello"] * 2000
        await runner.cleanup()

    corio.run(main())


def test_ten_mib_bodies_stream_both_ways_every_byte_checked():
    body = os.urandom(10 * 1024 * 1024)

    async def main():
        runner, port = await start(make_app())
        async with ClientSession() as session:

            async def chunks():
                for i in range(0, len(body), 100_000):
                    yield body[i : i + 100_000]

            async with session.post(f"http://127.0.0.1:{port}/upload", data=chunks()) as resp:
                got = await resp.json()
            assert got == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            size = 10 * 1024 * 1024
            async with session.get(f"http://127.0.0.1:{port}/download?size={size}") as resp:
                data = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    data += chunk
            assert bytes(data) == (bytes(range(256)) * 256 * 160)[:size]
        await runner.cleanup()

    corio.run(main())


def test_a_thousand_websocket_messages_in_order():
    async def main():
        runner, port = await start(make_app())
        async with (
            ClientSession() as session,
            session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws,
        ):
            for i in range(1000):
                await ws.send_str(f"message {i}")
                msg = await ws.receive()
                assert msg.data == f"MESSAGE {i}"
        await runner.cleanup()

    corio.run(main())


def test_tls_with_a_certificate_made_now(tls):
    server_ctx, client_ctx = tls

    async def main():
        runner, port = await start(make_app(), ssl_context=server_ctx)
        async with ClientSession(connector=TCPConnector(ssl=client_ctx)) as session:
            for _ in range(20):
                async with session.get(f"https://127.0.0.1:{port}/") as resp:
                    assert await resp.text() == "hello"
                    assert resp.connection is None or resp.connection.transport is not None
        await runner.cleanup()

    corio.run(main())


def test_shutdown_lets_requests_in_flight_finish():
    async def main():
        in_flight = asyncio.Event()
        runner, port = await start(make_app(in_flight))
        async with ClientSession() as session:

            async def request() -> str:
                async with session.get(f"http://127.0.0.1:{port}/slow") as resp:
                    return await resp.text()

            pending = [asyncio.create_task(request()) for _ in range(10)]
            await in_flight.wait()
            await asyncio.sleep(0.05)
            await runner.cleanup()  # graceful: waits for the handlers
            assert await asyncio.gather(*pending) == ["finished"] * 10

    corio.run(main())
