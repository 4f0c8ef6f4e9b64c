"""Datagram endpoints (``create_datagram_endpoint``, UDP and Unix
datagram): corio's datagram transport, whose reads, ``sendto``, flow
control and close sequence run in Rust (``_corio.DatagramIO``), with
asyncio's selector datagram transport's behaviour: ``datagram_received``
per datagram, socket errors to ``error_received``, a queue only for what
the socket would not take.

One difference, on purpose: after the transport is closed, ``sendto``
drops the datagram and counts it (asyncio's warning after five) for an
unconnected socket too, where asyncio's own transport reaches for its
closed socket and reports a fatal error."""

from __future__ import annotations

import asyncio
import socket
import sys
import warnings
from asyncio import futures, transports
from typing import Any

from . import _corio
from ._native import NativeWriteBuffer, socket_extra

_PY313 = sys.version_info >= (3, 13)


class DatagramTransport(
    NativeWriteBuffer, transports._FlowControlMixin, transports.DatagramTransport
):  # type: ignore[misc]
    """A datagram socket's transport."""

    _sock: socket.socket | None = None

    def __init__(
        self,
        loop: Any,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        address: Any = None,
        waiter: asyncio.Future[Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._extra = socket_extra(sock, extra)
        self._loop = loop
        self._sock_fd = sock.fileno()
        self._address = address
        self._io = _corio.DatagramIO(
            loop,
            self._sock_fd,
            sock.family,
            sock,
            self,
            protocol,
            bool(self._extra["peername"]),
            address,
            _PY313,
        )
        self._sock = sock
        # The hot path straight to Rust: no Python frame per datagram.
        self.sendto = self._io.sendto  # type: ignore[method-assign]
        loop._transports[self._sock_fd] = self
        self._io._spawn()
        loop.call_soon(protocol.connection_made, self)
        # only start reading when connection_made() has been called
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
            info.append(f"bufsize={self.get_write_buffer_size()}")
        return "<{}>".format(" ".join(info))

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if self._sock is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._sock.close()

    # -- the transport API (Rust underneath) --------------------------

    def sendto(self, data: Any, addr: Any = None) -> None:  # replaced per instance
        self._io.sendto(data, addr)

    def close(self) -> None:
        self._io.close()

    # -- rare events (called from Rust) -------------------------------

    def _callback_error(self, exc: BaseException) -> None:
        """``datagram_received``/``error_received`` raised: asyncio lets it
        escape the loop's callback, to the exception handler."""
        if self._loop is not None:
            self._loop.call_exception_handler(
                {
                    "message": f"Exception in callback {self!r} reading or reporting an error",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._io.get_protocol(),
                }
            )

    def _finish_close(self) -> None:
        """After ``connection_lost``: the socket closes (its watch is gone)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        self._loop = None


class DatagramMixin:
    """The datagram method of ``corio.Loop``."""

    def _make_datagram_transport(
        self,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        address: Any = None,
        waiter: asyncio.Future[Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> asyncio.DatagramTransport:
        return DatagramTransport(self, sock, protocol, address, waiter, extra)
