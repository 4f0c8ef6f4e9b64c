"""A socket transport's edges, on whichever backend the suite runs on: on
io_uring (in CI) its stream sockets are read and written through the ring's
requests (completion mode), where bytes handed to the ring are not yet in
the socket, so these pin down what a user relies on there as on epoll:
order against sendfile, abort with a peer that does not read, paused
reading, a reset peer, and a transport nobody closed."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import struct
import tempfile
import warnings
from typing import Any

import corio
import pytest


@pytest.fixture
def loop():
    lp = corio.new_event_loop()
    yield lp
    lp.close()


def run(loop: asyncio.AbstractEventLoop, coro: Any, timeout: float = 60) -> Any:
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def kernel_at_least(major: int, minor: int) -> bool:
    parts = os.uname().release.split(".")
    return (int(parts[0]), int(parts[1].split("-")[0])) >= (major, minor)


def completion_expected() -> bool:
    """Whether this run's loop reads stream sockets through io_uring
    completions: io_uring asked for, streams not kept on readiness, and a
    kernel with provided-buffer rings (5.19)."""
    return (
        os.environ.get("CORIO_IO_BACKEND") == "io_uring"
        and os.environ.get("CORIO_IO_URING_STREAMS", "") != "readiness"
        and kernel_at_least(5, 19)
    )


class Collect(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.data = bytearray()
        self.lost = loop.create_future()
        self.eof = False
        self.received: list[int] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.received.append(len(data))

    def eof_received(self) -> None:
        self.eof = True

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


async def pair(loop: asyncio.AbstractEventLoop) -> tuple[Any, Collect, socket.socket]:
    """A client transport (protocol `Collect`) and the server's raw socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    connecting = asyncio.ensure_future(
        loop.create_connection(lambda: Collect(loop), "127.0.0.1", port)
    )
    peer, _ = await loop.sock_accept(listener)
    listener.close()
    tr, proto = await connecting
    return tr, proto, peer


async def read_to_end(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> tuple[bytes, str]:
    """Everything `sock` receives, and how it ended ("eof" or "reset")."""
    got = bytearray()
    while True:
        try:
            chunk = await loop.sock_recv(sock, 1 << 20)
        except ConnectionResetError:
            return bytes(got), "reset"
        if not chunk:
            return bytes(got), "eof"
        got += chunk


def test_stream_sockets_use_completions_exactly_where_the_backend_allows(loop):
    async def main():
        tr, _, peer = await pair(loop)
        assert tr._io._is_completion_based() == completion_expected()
        tr.close()
        peer.close()

    run(loop, main())


def test_bytes_written_before_sendfile_arrive_before_the_file(loop):
    filed = os.urandom(2 * 1024 * 1024 + 5)

    async def main():
        # 100 KiB fits in the ring's outgoing buffer (nothing left in the
        # transport's own); 3 MiB does not.
        for size in (100 * 1024, 3 * 1024 * 1024):
            written = os.urandom(size)
            tr, _, peer = await pair(loop)
            peer.setblocking(False)
            reading = asyncio.ensure_future(read_to_end(loop, peer))
            with tempfile.TemporaryFile() as f:
                f.write(filed)
                f.flush()
                f.seek(0)
                tr.write(written)  # still unsent when sendfile starts
                assert await loop.sendfile(tr, f) == len(filed)
            tr.write(b"end")
            tr.write_eof()
            got, how = await reading
            assert how == "eof"
            assert got == written + filed + b"end", size
            tr.close()
            peer.close()

    run(loop, main())


def test_abort_with_a_peer_that_does_not_read_ends_the_connection(loop):
    async def main():
        before = open_descriptors()
        tr, proto, peer = await pair(loop)
        peer.setblocking(False)
        chunk = b"x" * (1 << 20)
        for _ in range(32):  # far more than the socket and the ring take
            tr.write(chunk)
        await asyncio.sleep(0.05)
        assert tr.get_write_buffer_size() > 0
        tr.abort()
        assert await asyncio.wait_for(proto.lost, 5) is None
        # Nothing of the connection is held open for the unread bytes
        # (only the peer's own socket is left).
        for _ in range(200):
            if open_descriptors() == before + 1:
                break
            await asyncio.sleep(0.01)
        assert open_descriptors() == before + 1
        # The peer reads what reached it, then the end.
        got, _ = await asyncio.wait_for(read_to_end(loop, peer), 20)
        assert 0 < len(got) < 32 * len(chunk)
        assert set(got) == {ord("x")}
        peer.close()

    run(loop, main())


def test_paused_reading_holds_the_data_back_until_resumed(loop):
    payload = os.urandom(1 << 20)

    async def main():
        tr, proto, peer = await pair(loop)
        peer.setblocking(False)
        sending = asyncio.ensure_future(loop.sock_sendall(peer, payload))
        while not proto.data:
            await asyncio.sleep(0.001)
        tr.pause_reading()
        assert not tr.is_reading()
        seen = len(proto.data)
        await asyncio.sleep(0.2)
        assert len(proto.data) == seen, "data_received while paused"
        tr.resume_reading()
        await sending
        peer.shutdown(socket.SHUT_WR)
        while not proto.eof:
            await asyncio.sleep(0.005)
        assert bytes(proto.data) == payload
        tr.close()
        peer.close()

    run(loop, main())


def test_a_reset_peer_closes_the_writer_with_a_connection_error(loop):
    async def main():
        tr, proto, peer = await pair(loop)
        # Closing with SO_LINGER 0 resets the connection.
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
        for _ in range(200):
            if proto.lost.done():
                break
            tr.write(b"y" * 65536)
            await asyncio.sleep(0.005)
        exc = await asyncio.wait_for(proto.lost, 5)
        assert isinstance(exc, (ConnectionResetError, BrokenPipeError)), exc
        assert tr.is_closing()

    run(loop, main())


def test_a_transport_nobody_closed_is_collected_and_its_socket_closed(loop):
    async def main():
        tr, proto, peer = await pair(loop)
        peer.setblocking(False)
        tr.write(b"last words")
        await asyncio.sleep(0.05)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tr.pause_reading()  # nothing refers to it from the loop now
            proto.transport = None
            del tr, proto
            gc.collect()
        assert any("unclosed transport" in str(w.message) for w in caught)
        got, how = await asyncio.wait_for(read_to_end(loop, peer), 10)
        assert (got, how) == (b"last words", "eof")
        peer.close()
        # The loop still serves new connections on reused descriptors.
        for _ in range(3):
            tr2, proto2, peer2 = await pair(loop)
            await loop.sock_sendall(peer2, b"ping")
            while bytes(proto2.data) != b"ping":
                await asyncio.sleep(0.001)
            tr2.close()
            peer2.close()

    run(loop, main())
