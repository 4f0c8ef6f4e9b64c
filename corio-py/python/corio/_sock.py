"""asyncio's ``sock_*`` coroutines over corio's readiness watches: each
tries the operation first and waits on readiness only when it would
block."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import Any


def _check_nonblocking(sock: socket.socket) -> None:
    if sock.gettimeout() != 0:
        raise ValueError("the socket must be non-blocking")


class SockMixin:
    """The ``sock_*`` methods of ``corio.Loop``."""

    # Provided by the loop.
    _add_reader: Callable[..., asyncio.Handle]
    _add_writer: Callable[..., asyncio.Handle]
    remove_reader: Callable[[Any], bool]
    remove_writer: Callable[[Any], bool]
    create_future: Callable[[], asyncio.Future[Any]]

    async def _wait_io(self, sock: socket.socket, write: bool, attempt: Callable[[], Any]) -> Any:
        """Runs ``attempt`` when ``sock`` is ready, until it does not block."""
        fut = self.create_future()
        fd = sock.fileno()

        def on_ready() -> None:
            if fut.done():
                return
            try:
                result = attempt()
            except (BlockingIOError, InterruptedError):
                return  # not ready after all: keep waiting
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:  # noqa: BLE001 (asyncio hands every error to the future)
                fut.set_exception(exc)
            else:
                fut.set_result(result)

        handle = self._add_writer(fd, on_ready) if write else self._add_reader(fd, on_ready)
        try:
            return await fut
        finally:
            # A wait cancelled after another one took the descriptor over
            # (its handle was cancelled then) must not remove the new one.
            if not handle.cancelled():
                if write:
                    self.remove_writer(fd)
                else:
                    self.remove_reader(fd)

    async def _sock_io(self, sock: socket.socket, write: bool, attempt: Callable[[], Any]) -> Any:
        _check_nonblocking(sock)
        try:
            return attempt()
        except (BlockingIOError, InterruptedError):
            pass
        return await self._wait_io(sock, write, attempt)

    async def sock_recv(self, sock: socket.socket, n: int) -> bytes:
        return await self._sock_io(sock, False, lambda: sock.recv(n))

    async def sock_recv_into(self, sock: socket.socket, buf: Any) -> int:
        return await self._sock_io(sock, False, lambda: sock.recv_into(buf))

    async def sock_recvfrom(self, sock: socket.socket, bufsize: int) -> tuple[bytes, Any]:
        return await self._sock_io(sock, False, lambda: sock.recvfrom(bufsize))

    async def sock_recvfrom_into(
        self, sock: socket.socket, buf: Any, nbytes: int = 0
    ) -> tuple[int, Any]:
        if not nbytes:
            nbytes = len(buf)
        return await self._sock_io(sock, False, lambda: sock.recvfrom_into(buf, nbytes))

    async def sock_sendto(self, sock: socket.socket, data: Any, address: Any) -> int:
        return await self._sock_io(sock, True, lambda: sock.sendto(data, address))

    async def sock_sendall(self, sock: socket.socket, data: Any) -> None:
        _check_nonblocking(sock)
        view = memoryview(data).cast("B")
        sent = 0
        try:
            sent = sock.send(view)
        except (BlockingIOError, InterruptedError):
            pass
        while sent < len(view):

            def attempt(offset: int = sent) -> int:
                return sock.send(view[offset:])

            sent += await self._wait_io(sock, True, attempt)

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        _check_nonblocking(sock)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio's resolver: an IP literal resolves without a trip to
            # the executor, so the connect starts at once.
            infos = await self._ensure_resolved(  # type: ignore[attr-defined]
                address, family=sock.family, type=sock.type, proto=sock.proto, loop=self
            )
            address = infos[0][4]
        try:
            sock.connect(address)
            return
        except (BlockingIOError, InterruptedError):
            pass

        def finished() -> None:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                if err in (errno.EINPROGRESS, errno.EALREADY):
                    raise BlockingIOError(err, "connect still in progress")
                raise OSError(err, f"Connect call failed {address}")

        await self._wait_io(sock, True, finished)

    async def sock_accept(self, sock: socket.socket) -> tuple[socket.socket, Any]:
        def attempt() -> tuple[socket.socket, Any]:
            conn, addr = sock.accept()
            conn.setblocking(False)
            return conn, addr

        return await self._sock_io(sock, False, attempt)
