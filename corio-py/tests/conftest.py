"""Fixtures shared by corio's Python tests."""

from __future__ import annotations

from collections.abc import Iterator

import corio
import pytest


@pytest.fixture
def loop() -> Iterator[corio.Loop]:
    """A fresh corio loop, closed after the test."""
    lp = corio.new_event_loop()
    yield lp
    lp.close()
