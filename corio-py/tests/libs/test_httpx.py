"""httpx's async client on corio's loop: against aiohttp over HTTP/1.1
(connections reused, counted), and against hypercorn over TLS with ALPN
(HTTP/2)."""

from __future__ import annotations

import asyncio

import corio
import httpx
from aiohttp import web
from conftest import assert_corio


def test_http1_against_aiohttp_reuses_connections():
    async def main():
        peers: set[tuple[str, int]] = set()

        async def hello(request: web.Request) -> web.Response:
            assert_corio()
            peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
            return web.Response(text="hello")

        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        limits = httpx.Limits(max_connections=5, max_keepalive_connections=5)
        async with httpx.AsyncClient(limits=limits) as client:

            async def one() -> str:
                resp = await client.get(f"http://127.0.0.1:{port}/")
                assert resp.http_version == "HTTP/1.1"
                return resp.text

            assert await asyncio.gather(*(one() for _ in range(300))) == ["hello"] * 300
        assert 1 <= len(peers) <= 5, f"{len(peers)} connections for 300 requests"
        await runner.cleanup()

    corio.run(main())


def test_http2_with_alpn_against_hypercorn_over_tls(tmp_path):
    import socket
    import ssl

    import trustme
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    async def app(scope, receive, send):  # an ASGI app
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert_corio()
        body = f"{scope['http_version']} {scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    # hypercorn takes certificate files: write those of a CA made now.
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    # A listening socket on port 0, handed to hypercorn by descriptor.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    fd = listener.fileno()
    config = Config()
    config.bind = [f"fd://{fd}"]
    config.certfile = config.keyfile = str(tmp_path / "server.pem")
    config.alpn_protocols = ["h2", "http/1.1"]

    async def main():
        shutdown = asyncio.Event()
        task = asyncio.create_task(serve(app, config, shutdown_trigger=shutdown.wait))
        client_ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        async with httpx.AsyncClient(http2=True, verify=client_ctx) as http:
            for _ in range(200):  # until hypercorn serves
                try:
                    await http.get(f"https://127.0.0.1:{port}/ready")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            resps = await asyncio.gather(
                *(http.get(f"https://127.0.0.1:{port}/p{i}") for i in range(50))
            )
        assert all(r.http_version == "HTTP/2" for r in resps)
        assert [r.text for r in resps] == [f"2 /p{i}" for i in range(50)]
        shutdown.set()
        await asyncio.wait_for(task, 30)

    # hypercorn takes the descriptor over (and closes it when it stops).
    listener.detach()
    corio.run(main())
