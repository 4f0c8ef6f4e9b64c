"""The tests' PostgreSQL server does not outlive a test run killed before
it could stop the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent

OWNER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from pg_server import PostgresServer
server = PostgresServer()
server.__enter__()
print(server.dir, server.port, flush=True)
time.sleep(600)
"""


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return True
    except OSError:
        return False


def test_a_killed_owner_leaves_no_server_behind() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(HERE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        directory, port = owner.stdout.readline().split()
        assert accepts(int(port)), "the server did not start"
    finally:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (Path(directory).exists() or accepts(int(port))):
        time.sleep(0.2)
    assert not accepts(int(port)), "the server outlived its owner"
    assert not Path(directory).exists(), "the server's directory was left behind"
