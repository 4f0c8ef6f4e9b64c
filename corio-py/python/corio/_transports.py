"""corio's socket transport: an ``asyncio.Transport`` whose reads, writes,
flow control and close sequence run in Rust (``_corio.StreamIO``).

This half builds it the way asyncio's selector transport is built
(``connection_made``, then reading, then the waiter, each a callback of
its own), holds what ``get_extra_info`` returns, and handles the rare
events: a fatal error, the final close of the socket, a server's count of
its connections.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import warnings
from asyncio import base_events, constants, futures, transports
from typing import Any

from . import _corio
from ._native import NativeReading, NativeWriteBuffer, socket_extra

_ATTACH_TAKES_TRANSPORT = sys.version_info >= (3, 13)


class SocketTransport(
    NativeReading, NativeWriteBuffer, transports._FlowControlMixin, transports.Transport
):  # type: ignore[misc]
    """A TCP or Unix stream socket's transport."""

    _start_tls_compatible = True
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE
    _sock: socket.socket | None = None

    def __init__(
        self,
        loop: Any,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[Any] | None = None,
        extra: dict[str, Any] | None = None,
        server: Any = None,
    ) -> None:
        self._extra = socket_extra(sock, extra)
        self._loop = loop
        self._sock = sock
        self._sock_fd = sock.fileno()
        self._server = server
        self._empty_waiter: asyncio.Future[None] | None = None
        # sendfile waiting for the socket to take more.
        self._writable_waiter: asyncio.Future[None] | None = None
        self._io = _corio.StreamIO(loop, self._sock_fd, self, protocol)
        # The hot path straight to Rust: no Python frame per write (nor
        # per is_closing, which HTTP servers ask per request).
        self.write = self._io.write  # type: ignore[method-assign]
        self.is_closing = self._io.is_closing  # type: ignore[method-assign]
        base_events._set_nodelay(sock)  # type: ignore[attr-defined]
        if server is not None:
            if _ATTACH_TAKES_TRANSPORT:
                server._attach(self)
            else:
                server._attach()
        loop._transports[self._sock_fd] = self
        self._io._spawn()
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._io.start_reading)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        info = [self.__class__.__name__]
        if self._sock is None:
            info.append("closed")
        elif self.is_closing():
            info.append("closing")
        info.append(f"fd={self._sock_fd}")
        if self._sock is not None:
            info.append(f"read={'polling' if self.is_reading() else 'idle'}")
            info.append(f"write=<bufsize={self.get_write_buffer_size()}>")
        return "<{}>".format(" ".join(info))

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if self._sock is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            # The ring lets go of the descriptor before it closes (off the
            # loop's thread the Rust half refuses; the socket closes anyway).
            io = getattr(self, "_io", None)
            if io is not None:
                try:
                    io._release()
                except RuntimeError:
                    pass
            self._sock.close()

    # -- the transport API (Rust underneath) --------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:  # replaced per instance
        self._io.write(data)

    def writelines(self, list_of_data: Any) -> None:
        if self._empty_waiter is not None:
            raise RuntimeError("unable to writelines; sendfile is in progress")
        self._io.writelines(list_of_data)

    def write_eof(self) -> None:
        self._io.write_eof()

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self._io.close()

    # -- rare events (called from Rust) -------------------------------

    def _write_failed(self, exc: BaseException) -> None:
        if self._empty_waiter is not None:
            self._empty_waiter.set_exception(exc)

    def _write_drained(self) -> None:
        if self._empty_waiter is not None and not self._empty_waiter.done():
            self._empty_waiter.set_result(None)

    def _finish_close(self) -> None:
        """After ``connection_lost``: the socket closes (its watch is gone)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        self._loop = None
        server, self._server = self._server, None
        if server is not None:
            if _ATTACH_TAKES_TRANSPORT:
                server._detach(self)
            else:
                server._detach()
        for waiter in (self._empty_waiter, self._writable_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionError("Connection is closed by peer"))

    # -- sendfile (asyncio's native path waits for the buffer to drain) --

    def _make_empty_waiter(self) -> asyncio.Future[None]:
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        assert self._loop is not None
        self._empty_waiter = self._loop.create_future()
        # Everything written must be out, the ring's requests included:
        # sendfile writes to the socket itself.
        if not self._io._unsent():
            self._empty_waiter.set_result(None)
        else:
            self._io._wait_writable(self._write_drained)
        self.write = self._write_during_sendfile  # type: ignore[method-assign]
        return self._empty_waiter

    def _reset_empty_waiter(self) -> None:
        self._empty_waiter = None
        self.write = self._io.write  # type: ignore[method-assign]

    def _write_during_sendfile(self, data: Any) -> None:
        raise RuntimeError("unable to write; sendfile is in progress")
