"""Fixtures of the library tests: TLS material made at test time and a
PostgreSQL server of the tests' own."""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import corio
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pg_server import PostgresServer


def assert_corio() -> None:
    """Called inside the libraries' handlers and callbacks: the code runs
    on corio's loop, not one a library picked for itself."""
    loop = asyncio.get_running_loop()
    assert type(loop) is corio.Loop, f"running on {type(loop)!r}, not corio's loop"


@pytest.fixture(scope="session")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) for 127.0.0.1/localhost, from a CA
    made now."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    with PostgresServer() as dsn:
        yield dsn
