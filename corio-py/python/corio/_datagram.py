"""Datagram endpoints (``create_datagram_endpoint``, UDP and Unix
datagram): asyncio's own selector datagram transport, running on corio's
level-triggered watches (``_add_reader``/``_add_writer`` of the loop). Its
``repr`` is corio's: asyncio's reads the selector loop's ``_selector``."""

from __future__ import annotations

import asyncio
import socket
from asyncio import selector_events
from typing import Any


class DatagramTransport(selector_events._SelectorDatagramTransport):  # type: ignore[misc,name-defined]
    """A datagram socket's transport."""

    def __repr__(self) -> str:
        info = [self.__class__.__name__]
        if self._sock is None:
            info.append("closed")
        elif self._closing:
            info.append("closing")
        info.append(f"fd={self._sock_fd}")
        if self._sock is not None:
            info.append(f"bufsize={self.get_write_buffer_size()}")
        return "<{}>".format(" ".join(info))


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
        return DatagramTransport(self, sock, protocol, address, waiter, extra)  # type: ignore[no-any-return]
