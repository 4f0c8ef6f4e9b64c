"""``add_signal_handler`` / ``remove_signal_handler``: Python's own signal
machinery (``signal.set_wakeup_fd``) feeding a socket the loop watches, so
handlers run as callbacks on the loop, as asyncio's Unix loop does. corio's
Rust signal streams are not used here: Python owns the process's signal
dispositions."""

from __future__ import annotations

import signal
import socket
from asyncio import coroutines, events
from collections.abc import Callable
from typing import Any


def _noop(signum: int, frame: Any) -> None:
    """Installed for a handled signal: the wakeup fd does the work."""


class SignalMixin:
    """The signal-handler methods of ``corio.Loop``."""

    _signal_handlers: dict[int, events.Handle]
    _signal_sockets: tuple[socket.socket, socket.socket] | None = None
    add_reader: Callable[..., None]
    remove_reader: Callable[[Any], bool]
    _check_closed: Callable[[], None]
    _core_call_soon: Callable[[events.Handle], None]
    _core_is_closed: Callable[[], bool]

    def _check_signal(self, sig: int) -> None:
        if not isinstance(sig, int):
            raise TypeError(f"sig must be an int, not {sig!r}")
        if sig not in signal.valid_signals():
            raise ValueError(f"invalid signal number {sig}")

    def add_signal_handler(self, sig: int, callback: Callable[..., Any], *args: Any) -> None:
        if coroutines.iscoroutine(callback) or coroutines.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        if self._signal_sockets is None:
            rsock, wsock = socket.socketpair()
            rsock.setblocking(False)
            wsock.setblocking(False)
            self._signal_sockets = (rsock, wsock)
            self.add_reader(rsock.fileno(), self._read_signals)
        try:
            # Raises ValueError outside the main thread.
            signal.set_wakeup_fd(self._signal_sockets[1].fileno())
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc)) from None
        handle = events.Handle(callback, args, self, None)  # type: ignore[arg-type]
        self._signal_handlers[sig] = handle
        try:
            signal.signal(sig, _noop)
            signal.siginterrupt(sig, False)
        except OSError as exc:
            del self._signal_handlers[sig]
            if not self._signal_handlers:
                self._close_signal_sockets()
            raise RuntimeError(f"sig {sig} cannot be caught") from exc

    def remove_signal_handler(self, sig: int) -> bool:
        self._check_signal(sig)
        try:
            del self._signal_handlers[sig]
        except KeyError:
            return False
        handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except OSError as exc:
            raise RuntimeError(f"sig {sig} cannot be caught") from exc
        if not self._signal_handlers:
            self._close_signal_sockets()
        return True

    def _read_signals(self) -> None:
        assert self._signal_sockets is not None
        while True:
            try:
                data = self._signal_sockets[0].recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            for signum in data:
                handle = self._signal_handlers.get(signum)
                if handle is None:
                    continue
                if handle._cancelled:
                    self.remove_signal_handler(signum)
                else:
                    self._core_call_soon(handle)

    def _close_signal_sockets(self) -> None:
        if self._signal_sockets is None:
            return
        try:
            signal.set_wakeup_fd(-1)
        except (ValueError, OSError):
            pass
        rsock, wsock = self._signal_sockets
        self._signal_sockets = None
        if not self._core_is_closed():
            self.remove_reader(rsock.fileno())
        rsock.close()
        wsock.close()

    def _remove_all_signal_handlers(self) -> None:
        for sig in list(self._signal_handlers):
            self.remove_signal_handler(sig)
        self._close_signal_sockets()
