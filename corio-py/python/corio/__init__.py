"""corio: an asyncio event loop whose core is corio's Rust loop.

One line switches a program to it:

>>> import asyncio, corio
>>> async def main():
...     await asyncio.sleep(0.01)
...     return "done"
>>> corio.run(main())
'done'

Callbacks, timers and tasks run on the same ready queue as corio's Rust
tasks; asyncio's own ``Future`` and ``Task`` (its C implementation) are used
unchanged. Linux only.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ._loop import Loop

if not sys.platform.startswith("linux"):
    raise ImportError("corio runs on Linux only (it is built on epoll, eventfd and pidfd)")

__all__ = ["EventLoopPolicy", "Loop", "RustPanic", "install", "new_event_loop", "run"]

_T = TypeVar("_T")


class RustPanic(Exception):
    """A Rust future awaited from Python (an extension built with
    ``corio-ext``) panicked; the message is the panic's."""


def new_event_loop() -> Loop:
    """A new corio event loop (asyncio's ``new_event_loop``)."""
    return Loop()


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """The default policy, making corio loops."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:  # type: ignore[override]
        return Loop()


def install() -> None:
    """Makes corio the loop asyncio creates from now on (``asyncio.run``,
    ``asyncio.new_event_loop``, ``get_event_loop``)."""
    asyncio.set_event_loop_policy(EventLoopPolicy())


def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T:
    """``asyncio.run(main)`` on a corio loop."""
    if sys.version_info >= (3, 12):
        return asyncio.run(main, debug=debug, loop_factory=new_event_loop)
    runner_factory: Callable[..., Any] = getattr(asyncio, "Runner", None)  # type: ignore[assignment]
    if runner_factory is not None:  # 3.11
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    # 3.10: asyncio.run takes no loop factory; switch the policy around it.
    old = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(EventLoopPolicy())
    try:
        return asyncio.run(main, debug=bool(debug))
    finally:
        asyncio.set_event_loop_policy(old)
