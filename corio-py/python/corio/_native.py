"""What corio's native transports share in their Python halves: the
methods that only forward to the Rust half (``self._io``)."""

from __future__ import annotations

import socket
from asyncio import trsock
from asyncio.log import logger
from typing import Any


def socket_extra(sock: socket.socket, extra: dict[str, Any] | None) -> dict[str, Any]:
    """``get_extra_info``'s dictionary for a socket transport, as asyncio
    fills it: the socket (wrapped), its name and its peer's."""
    info = dict(extra or {})
    info["socket"] = trsock.TransportSocket(sock)
    try:
        info["sockname"] = sock.getsockname()
    except OSError:
        info["sockname"] = None
    if "peername" not in info:
        try:
            info["peername"] = sock.getpeername()
        except OSError:
            info["peername"] = None
    return info


class NativeTransport:
    """The protocol and closing state, kept by the Rust half."""

    _io: Any
    _loop: Any

    def get_protocol(self) -> Any:
        return self._io.get_protocol()

    def set_protocol(self, protocol: Any) -> None:
        self._io.set_protocol(protocol)

    @property
    def _protocol(self) -> Any:
        return self._io.get_protocol()

    def is_closing(self) -> bool:
        return bool(self._io.is_closing())

    def _force_close(self, exc: BaseException | None) -> None:
        self._io.force_close(exc)

    def _fatal_error(self, exc: BaseException, message: str = "Fatal error on transport") -> None:
        """asyncio's: an ``OSError`` (the peer's doing) is logged in debug
        mode only, anything else goes to the exception handler; then the
        transport closes at once."""
        self._report(exc, message, quiet=isinstance(exc, OSError))

    def _report(self, exc: BaseException, message: str, quiet: bool) -> None:
        if quiet:
            if self._loop is not None and self._loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        elif self._loop is not None:
            self._loop.call_exception_handler(
                {
                    "message": message,
                    "exception": exc,
                    "transport": self,
                    "protocol": self._io.get_protocol(),
                }
            )
        self._force_close(exc)


class NativeWriteBuffer(NativeTransport):
    """asyncio's write-buffer API (``_FlowControlMixin``'s), over the Rust
    half's buffer and water marks; put before ``_FlowControlMixin`` in the
    bases so these win."""

    def abort(self) -> None:
        self._force_close(None)

    def get_write_buffer_size(self) -> int:
        return int(self._io.get_write_buffer_size())

    def get_write_buffer_limits(self) -> tuple[int, int]:
        low, high = self._io.get_write_buffer_limits()
        return low, high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._io._set_limits(high, low)

    @property
    def _protocol_paused(self) -> bool:
        return bool(self._io.protocol_paused)


class NativeReading(NativeTransport):
    """``pause_reading``/``resume_reading``, done by the Rust half."""

    def is_reading(self) -> bool:
        return bool(self._io.is_reading())

    def pause_reading(self) -> None:
        self._io.pause_reading()
        if self._loop is not None and self._loop.get_debug():
            logger.debug("%r pauses reading", self)

    def resume_reading(self) -> None:
        self._io.resume_reading()
        if self._loop is not None and self._loop.get_debug():
            logger.debug("%r resumes reading", self)
