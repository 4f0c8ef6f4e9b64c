"""``sock_sendfile`` and ``loop.sendfile`` with ``os.sendfile`` (the kernel
copies from the file to the socket); asyncio's ``BaseEventLoop`` falls
back to reading and writing when this raises
``SendfileNotAvailableError`` (and ``fallback`` is true)."""

from __future__ import annotations

import asyncio
import errno
import io
import os
import socket
from collections.abc import Callable
from typing import Any

from ._transports import SocketTransport

# The most one os.sendfile call is asked to send.
_MAX_CHUNK = 1 << 30


class SendfileMixin:
    """The sendfile methods of ``corio.Loop``."""

    # Provided by the loop.
    create_future: Callable[[], asyncio.Future[Any]]
    _wait_io: Callable[..., Any]

    async def _sock_sendfile_native(
        self, sock: socket.socket, file: Any, offset: int, count: int | None
    ) -> int:
        return await self._sendfile_loop(sock, file, offset, count, None)

    async def _sendfile_native(
        self, transp: asyncio.BaseTransport, file: Any, offset: int, count: int | None
    ) -> int:
        if not isinstance(transp, SocketTransport) or transp._sock is None:
            raise asyncio.SendfileNotAvailableError("not a corio socket transport")
        resume_reading = transp.is_reading()
        transp.pause_reading()
        await transp._make_empty_waiter()
        try:
            return await self._sendfile_loop(transp._sock, file, offset, count, transp)
        finally:
            transp._reset_empty_waiter()
            if resume_reading:
                transp.resume_reading()

    async def _sendfile_loop(
        self,
        sock: socket.socket,
        file: Any,
        offset: int,
        count: int | None,
        transp: SocketTransport | None,
    ) -> int:
        if not hasattr(os, "sendfile"):
            raise asyncio.SendfileNotAvailableError("os.sendfile() is not available")
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation) as err:
            raise asyncio.SendfileNotAvailableError("not a regular file") from err
        try:
            fsize = os.fstat(fileno).st_size
        except OSError as err:
            raise asyncio.SendfileNotAvailableError("not a regular file") from err
        end = offset + count if count else fsize
        total = 0
        try:
            while offset + total < end:
                size = min(end - offset - total, _MAX_CHUNK)
                try:
                    sent = os.sendfile(sock.fileno(), fileno, offset + total, size)
                except (BlockingIOError, InterruptedError):
                    await self._writable(sock, transp)
                    continue
                except OSError as exc:
                    if exc.errno == errno.ENOTCONN and type(exc) is not ConnectionError:
                        new = ConnectionError("socket is not connected", errno.ENOTCONN)
                        new.__cause__ = exc
                        exc = new
                    if total == 0:
                        # Nothing sent: the caller may still fall back.
                        raise asyncio.SendfileNotAvailableError("os.sendfile call failed") from exc
                    raise exc from None
                if sent == 0:
                    break  # the file ended early
                total += sent
        finally:
            if total > 0:
                os.lseek(fileno, offset + total, os.SEEK_SET)
        return total

    async def _writable(self, sock: socket.socket, transp: SocketTransport | None) -> None:
        if transp is None:
            await self._wait_io(sock, True, lambda: None)
            return
        fut = self.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        transp._writable_waiter = fut
        transp._io._wait_writable(ready)
        try:
            await fut
        finally:
            transp._writable_waiter = None
