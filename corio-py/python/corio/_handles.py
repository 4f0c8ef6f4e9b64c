"""The ``repr`` of corio's Rust handles, as asyncio writes its own."""

from __future__ import annotations

from asyncio import format_helpers
from typing import Any


def handle_repr(handle: Any) -> str:
    """``<Handle cb() at file:line>`` / ``<TimerHandle when=... cb()>``, as
    asyncio's ``Handle.__repr__``."""
    info = [type(handle).__name__]
    if handle._cancelled:
        info.append("cancelled")
    if hasattr(handle, "when"):
        info.insert(2 if handle._cancelled else 1, f"when={handle._when}")
    if handle._callback is not None:
        info.append(format_helpers._format_callback_source(handle._callback, handle._args))  # type: ignore[attr-defined]
    return "<{}>".format(" ".join(info))
