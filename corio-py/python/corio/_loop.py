"""``corio.Loop``: asyncio's event loop over corio's Rust core.

The ready queue, the timers, the readiness watches and the wait live in
Rust (``_corio.CoreLoop``, the native base class); so do ``call_soon``,
``call_later``, ``call_at``, ``time`` and ``_run_once``, which override
asyncio's. asyncio's ``BaseEventLoop`` supplies the rest of the API (tasks,
futures, the exception handler, executors, name resolution, async
generators) unchanged. Outside debug mode handles are Rust objects
(``_corio.Handle``, ``_corio.TimerHandle``); in debug mode they are
asyncio's own, with their creation tracebacks.
"""

from __future__ import annotations

import asyncio
import selectors
import sys
import threading
from asyncio import events, format_helpers
from asyncio.base_events import _format_handle  # type: ignore[attr-defined]
from asyncio.log import logger
from collections.abc import Callable
from typing import Any

from . import _corio
from ._datagram import DatagramMixin
from ._pipes import PipesMixin
from ._sendfile import SendfileMixin
from ._serving import ServingMixin
from ._signals import SignalMixin
from ._sock import SockMixin
from ._unix import UnixMixin


def _fd_of(fileobj: Any) -> int:
    return selectors._fileobj_to_fd(fileobj)  # type: ignore[attr-defined]


class Loop(
    # CoreLoop first: every Rust method call checks `self` against it by
    # walking the MRO, and every future asks `get_debug`.
    _corio.CoreLoop,
    SockMixin,
    SignalMixin,
    ServingMixin,
    UnixMixin,
    PipesMixin,
    SendfileMixin,
    DatagramMixin,
    asyncio.BaseEventLoop,
):  # type: ignore[misc]
    """An asyncio event loop whose core is corio's Rust loop."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Keeps a subclass's attributes where 3.11/3.12's specializing
        # interpreter looks for them (see `_corio.keep_attributes_inline`).
        _corio.keep_attributes_inline(cls)

    def __init__(self) -> None:
        super().__init__()
        self._remote = self._core_remote()
        self._init_serving()
        self._init_unix()
        self._init_pipes()
        self._signal_handlers: dict[int, events.Handle] = {}

    # -- debug mode (the Rust loop reads the flag) --------------------

    @property  # type: ignore[override]
    def _debug(self) -> bool:
        return self._core_get_debug()

    @_debug.setter
    def _debug(self, enabled: bool) -> None:
        self._core_set_debug(bool(enabled))

    @property
    def _stopping(self) -> bool:  # type: ignore[override]
        return self._core_get_stopping()

    @_stopping.setter
    def _stopping(self, stopping: bool) -> None:
        self._core_set_stopping(bool(stopping))

    # -- running ------------------------------------------------------

    def run_forever(self) -> None:
        """asyncio's ``run_forever``, its iterations looping in Rust (unless
        ``_run_once`` was replaced on the instance, as a test may do)."""
        # (Not `self.__dict__`: asking for it turns the attributes' inline
        # values into a dictionary, and 3.11/3.12 then stop specializing
        # every attribute and method load on the loop.)
        if self._run_once != type(self)._run_once.__get__(self):
            return super().run_forever()
        if hasattr(asyncio.BaseEventLoop, "_run_forever_setup"):  # 3.13+
            try:
                self._run_forever_setup()  # type: ignore[attr-defined]
                self._core_run_forever()
            finally:
                self._run_forever_cleanup()  # type: ignore[attr-defined]
            return None
        # 3.10-3.12: the steps of asyncio's own run_forever around the loop.
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        old_agen_hooks = sys.get_asyncgen_hooks()
        try:
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(
                firstiter=self._asyncgen_firstiter_hook,
                finalizer=self._asyncgen_finalizer_hook,
            )
            events._set_running_loop(self)
            self._core_run_forever()
        finally:
            self._stopping = False
            self._thread_id = None
            events._set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_agen_hooks)
        return None

    # -- scheduling with asyncio's handles (debug mode) ---------------

    def _call_soon_debug(
        self, callback: Callable[..., Any], args: Any, context: Any
    ) -> events.Handle:
        self._check_closed()
        self._check_thread()
        self._check_callback(callback, "call_soon")
        handle = self._call_soon(callback, args, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        return handle

    def _call_soon(self, callback: Callable[..., Any], args: Any, context: Any) -> events.Handle:
        handle = events.Handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        self._core_call_soon(handle)
        return handle

    def _call_at_debug(
        self, when: float, callback: Callable[..., Any], args: Any, context: Any
    ) -> events.TimerHandle:
        self._check_closed()
        self._check_thread()
        self._check_callback(callback, "call_at")
        timer = events.TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        self._core_call_at(when, timer)
        timer._scheduled = True
        return timer

    def _timer_handle_cancelled(self, handle: events.TimerHandle) -> None:
        if not self._closed and not (
            self.is_running() and threading.get_ident() != self._thread_id
        ):
            self._core_cancel_timer(handle)

    def _report_callback_error(
        self, handle: Any, callback: Any, args: Any, exc: BaseException
    ) -> None:
        """What asyncio's ``Handle._run`` does with an exception a Rust
        handle's callback raised."""
        cb = format_helpers._format_callback_source(callback, args)  # type: ignore[attr-defined]
        self.call_exception_handler(
            {"message": f"Exception in callback {cb}", "exception": exc, "handle": handle}
        )

    def call_soon_threadsafe(
        self, callback: Callable[..., Any], *args: Any, context: Any = None
    ) -> events.Handle:
        self._check_closed()
        if self._debug:
            self._check_callback(callback, "call_soon_threadsafe")
        handle = events.Handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        self._remote.call_soon(handle)
        return handle

    def _write_to_self(self) -> None:
        self._remote.wake()

    def _log_slow_callback(self, handle: events.Handle, seconds: float) -> None:
        """asyncio's debug-mode warning about one slow callback (the Rust
        loop timed it)."""
        logger.warning("Executing %s took %.3f seconds", _format_handle(handle), seconds)

    def stop(self) -> None:
        self._stopping = True
        if self.is_running() and threading.get_ident() != self._thread_id:
            self._write_to_self()

    def close(self) -> None:
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        self._remove_all_signal_handlers()
        super().close()
        self._release_transports()
        self._release_pipe_transports()
        self._close_child_pidfds()
        self._core_close()

    # -- file descriptors (level-triggered, as asyncio's selectors) ---

    def add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:
        self._ensure_fd_no_transport(fd)
        self._add_reader(fd, callback, *args)

    def _add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> events.Handle:
        """``add_reader``, returning the handle (cancelled if replaced)."""
        self._check_closed()
        handle = events.Handle(callback, args, self, None)
        self._core_add_reader(_fd_of(fd), handle)
        return handle

    def remove_reader(self, fd: Any) -> bool:
        if self.is_closed():
            return False
        self._ensure_fd_no_transport(fd)
        return self._remove_reader(fd)

    def _remove_reader(self, fd: Any) -> bool:
        """``remove_reader`` without the transport check."""
        if self.is_closed():
            return False
        return self._core_remove_reader(_fd_of(fd))

    def _remove_writer(self, fd: Any) -> bool:
        """``remove_writer`` without the transport check."""
        if self.is_closed():
            return False
        return self._core_remove_writer(_fd_of(fd))

    def add_writer(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:
        self._ensure_fd_no_transport(fd)
        self._add_writer(fd, callback, *args)

    def _add_writer(self, fd: Any, callback: Callable[..., Any], *args: Any) -> events.Handle:
        """``add_writer``, returning the handle (cancelled if replaced)."""
        self._check_closed()
        handle = events.Handle(callback, args, self, None)
        self._core_add_writer(_fd_of(fd), handle)
        return handle

    def remove_writer(self, fd: Any) -> bool:
        if self.is_closed():
            return False
        self._ensure_fd_no_transport(fd)
        return self._remove_writer(fd)


_corio.keep_attributes_inline(Loop)
