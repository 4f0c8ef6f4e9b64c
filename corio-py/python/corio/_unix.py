"""Unix stream sockets: ``create_unix_connection`` and
``create_unix_server`` (asyncio's ``BaseEventLoop`` leaves them to the
loop), with the arguments, checks and errors of the running Python's
asyncio (``ssl_shutdown_timeout`` from 3.11, ``cleanup_socket`` from
3.13)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import stat
import sys
from asyncio import base_events
from asyncio.log import logger
from collections.abc import Callable
from typing import Any

from ._serving import HAS_SHUTDOWN_TIMEOUT

_CLEANUP_SOCKET = sys.version_info >= (3, 13)


def _is_abstract(path: str | bytes) -> bool:
    return path[0] in (0, "\x00")


def _check_stream_unix(sock: socket.socket) -> None:
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")


class UnixMixin:
    """The Unix-socket methods of ``corio.Loop``."""

    # Provided by the loop.
    sock_connect: Callable[..., Any]
    _create_connection_transport: Callable[..., Any]

    def _init_unix(self) -> None:
        # Listening sockets whose file the server removes when it stops,
        # with the inode it had (3.13's cleanup_socket).
        self._unix_server_sockets: dict[socket.socket, int] = {}

    async def create_unix_connection(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        path: str | bytes | os.PathLike[str] | None = None,
        *,
        ssl: Any = None,
        sock: socket.socket | None = None,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> tuple[asyncio.BaseTransport, asyncio.BaseProtocol]:
        if ssl:
            if server_hostname is None:
                raise ValueError("you have to pass server_hostname when using ssl")
        else:
            if server_hostname is not None:
                raise ValueError("server_hostname is only meaningful with ssl")
            if ssl_handshake_timeout is not None:
                raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
            if ssl_shutdown_timeout is not None:
                raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        if path is not None:
            if sock is not None:
                raise ValueError("path and sock can not be specified at the same time")
            path = os.fspath(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
            try:
                sock.setblocking(False)
                await self.sock_connect(sock, path)
            except BaseException:
                sock.close()
                raise
        else:
            if sock is None:
                raise ValueError("no path and sock were specified")
            _check_stream_unix(sock)
            sock.setblocking(False)
        kwargs: dict[str, Any] = {"ssl_handshake_timeout": ssl_handshake_timeout}
        if HAS_SHUTDOWN_TIMEOUT:
            kwargs["ssl_shutdown_timeout"] = ssl_shutdown_timeout
        transport, protocol = await self._create_connection_transport(
            sock, protocol_factory, ssl, server_hostname, **kwargs
        )
        return transport, protocol

    async def create_unix_server(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        path: str | bytes | os.PathLike[str] | None = None,
        *,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        start_serving: bool = True,
        cleanup_socket: bool = True,
    ) -> asyncio.AbstractServer:
        if isinstance(ssl, bool):
            raise TypeError("ssl argument must be an SSLContext or None")
        if ssl_handshake_timeout is not None and not ssl:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if ssl_shutdown_timeout is not None and not ssl:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        if path is not None:
            if sock is not None:
                raise ValueError("path and sock can not be specified at the same time")
            path = os.fspath(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if not _is_abstract(path):
                # A stale socket file from an earlier server is replaced.
                try:
                    if stat.S_ISSOCK(os.stat(path).st_mode):
                        os.remove(path)
                except FileNotFoundError:
                    pass
                except OSError as err:
                    logger.error("Unable to check or remove stale UNIX socket %r: %r", path, err)
            try:
                sock.bind(path)
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE:
                    raise OSError(errno.EADDRINUSE, f"Address {path!r} is already in use") from None
                raise
            except BaseException:
                sock.close()
                raise
        else:
            if sock is None:
                raise ValueError("path was not specified, and no sock specified")
            _check_stream_unix(sock)
        if _CLEANUP_SOCKET and cleanup_socket:
            name = sock.getsockname()
            if name and not _is_abstract(name):
                try:
                    self._unix_server_sockets[sock] = os.stat(name).st_ino
                except FileNotFoundError:
                    pass
        sock.setblocking(False)
        args: list[Any] = [self, [sock], protocol_factory, ssl, backlog, ssl_handshake_timeout]
        if HAS_SHUTDOWN_TIMEOUT:
            args.append(ssl_shutdown_timeout)
        server = base_events.Server(*args)
        if start_serving:
            server._start_serving()
            # One iteration, so that the reader is in place on return.
            await asyncio.sleep(0)
        return server

    def _cleanup_unix_socket(self, sock: socket.socket) -> None:
        """Removes the file of a stopped Unix server (3.13's
        cleanup_socket), unless another socket has replaced it."""
        inode = self._unix_server_sockets.pop(sock, None)
        if inode is None:
            return
        try:
            path = sock.getsockname()
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except (FileNotFoundError, OSError):
            pass
