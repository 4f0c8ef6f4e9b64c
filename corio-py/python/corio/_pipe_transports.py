"""corio's Unix pipe transports (``connect_read_pipe``,
``connect_write_pipe``, a subprocess's standard streams): asyncio's
``_UnixReadPipeTransport`` and ``_UnixWritePipeTransport`` with their reads,
writes, flow control and close sequence in Rust (``_corio.StreamIO`` with
kind ``read_pipe``/``write_pipe``).

They behave as asyncio's do: a read pipe closes at EOF (``eof_received``,
then ``connection_lost(None)``); a write pipe's ``write_eof`` closes it
once its buffer is written, and it notices its reader going away (a
pipe's or socket's other end closed) by closing, with ``BrokenPipeError``
if data was still to go.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import warnings
from asyncio import futures, transports
from typing import Any

from . import _corio
from ._native import NativeReading, NativeTransport, NativeWriteBuffer


class _PipeTransport(NativeTransport):
    """What both pipe transports share: the pipe, its descriptor's checks,
    the Rust half, and the final close."""

    _pipe: Any = None
    _fileno: int | None = None
    _loop: Any
    _extra: dict[str, Any]
    _io: _corio.StreamIO

    def _attach(
        self,
        loop: Any,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        kind: str,
        extra: dict[str, Any] | None,
    ) -> int:
        """Checks the descriptor, makes it non-blocking, builds the Rust
        half and schedules ``connection_made``; returns the mode."""
        self._extra = {**(extra or {}), "pipe": pipe}
        self._loop = loop
        fileno = pipe.fileno()
        mode = os.fstat(fileno).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
            raise ValueError("Pipe transport is for pipes/sockets only.")
        os.set_blocking(fileno, False)
        self._io = _corio.StreamIO(loop, fileno, self, protocol, kind)
        self._pipe = pipe
        self._fileno = fileno
        self._io._spawn()
        loop.call_soon(protocol.connection_made, self)
        return mode

    @staticmethod
    def _wake(loop: Any, waiter: asyncio.Future[Any] | None) -> None:
        if waiter is not None:
            # only once connection_made() has been called
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)  # type: ignore[attr-defined]

    def _repr_info(self) -> list[str]:
        info = [self.__class__.__name__]
        if self._pipe is None:
            info.append("closed")
        elif self._io.is_closing():
            info.append("closing")
        info.append(f"fd={self._fileno}")
        return info

    def _watched(self) -> bool:
        """Open, on an open loop (a closed loop watches nothing)."""
        return self._pipe is not None and self._loop is not None and not self._loop.is_closed()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if self._pipe is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._pipe.close()

    def _finish_close(self) -> None:
        """After ``connection_lost``: the pipe closes (its watch is gone)."""
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            pipe.close()
        self._loop = None


class ReadPipeTransport(_PipeTransport, NativeReading, transports.ReadTransport):  # type: ignore[misc]
    """The read end of a pipe (or a socket or character device)."""

    max_size = 256 * 1024

    def __init__(
        self,
        loop: Any,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._attach(loop, pipe, protocol, "read_pipe", extra)
        loop.call_soon(self._io.start_reading)
        self._wake(loop, waiter)

    def __repr__(self) -> str:
        info = self._repr_info()
        if self._watched():
            info.append("polling" if self._io.is_reading() else "idle")
        elif self._pipe is not None:
            info.append("open")
        return "<{}>".format(" ".join(info))

    def close(self) -> None:
        self._io.close()

    def _fatal_error(
        self, exc: BaseException, message: str = "Fatal error on pipe transport"
    ) -> None:
        # EIO: the other end of a pseudo-terminal closed.
        quiet = isinstance(exc, OSError) and exc.errno == errno.EIO
        self._report(exc, message, quiet)


class WritePipeTransport(  # type: ignore[misc]
    _PipeTransport, NativeWriteBuffer, transports._FlowControlMixin, transports.WriteTransport
):
    """The write end of a pipe (or a socket or character device)."""

    def __init__(
        self,
        loop: Any,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        mode = self._attach(loop, pipe, protocol, "write_pipe", extra)
        # The read end closing shows as an event on a pipe's or socket's
        # write end (not a character device's).
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            loop.call_soon(self._io.start_reading)
        # The hot path straight to Rust: no Python frame per write.
        self.write = self._io.write  # type: ignore[method-assign]
        self._wake(loop, waiter)

    def __repr__(self) -> str:
        info = self._repr_info()
        if self._watched():
            bufsize = self.get_write_buffer_size()
            info.append("polling" if bufsize else "idle")
            info.append(f"bufsize={bufsize}")
        elif self._pipe is not None:
            info.append("open")
        return "<{}>".format(" ".join(info))

    def write(self, data: bytes | bytearray | memoryview) -> None:  # replaced per instance
        self._io.write(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self._io.close()

    def close(self) -> None:
        if self._pipe is not None:
            self._io.close()
