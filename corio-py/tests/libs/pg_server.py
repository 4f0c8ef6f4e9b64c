"""A throwaway PostgreSQL server for tests and examples: ``initdb`` into a
temporary directory, ``pg_ctl start`` on a free loopback port, trust
authentication, stopped and removed afterwards. Debian's server packages
are installed by ``scripts/ensure-services.sh`` when missing.

    python pg_server.py start   # prints the DSN; the server runs until `stop`
    python pg_server.py stop DIR

As a module: ``with PostgresServer() as dsn: ...``. There a watchdog
process (in a session of its own) stops and removes the server if the
process that started it dies without stopping it (a test run killed by
a signal or a timeout), so no server outlives its tests.
"""

from __future__ import annotations

import glob
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: run scripts/ensure-services.sh "
            "(Debian's postgresql package)"
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run as the postgres user then."""
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam("postgres")
    except KeyError as err:
        raise RuntimeError("running as root and there is no postgres user to run initdb") from err
    return ["runuser", "-u", "postgres", "--", *cmd]


class PostgresServer:
    """A PostgreSQL server of its own, on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="corio-pg-"))
        self.port = _free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.watchdog: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

        def run(cmd: list[str]) -> None:
            subprocess.run(
                _as_postgres(cmd), check=True, capture_output=True, text=True, timeout=120
            )

        try:
            run([_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
            run(
                [
                    _binary("pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self.dir / "log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "start",
                ]
            )
        except subprocess.CalledProcessError as err:
            log = self.dir / "log"
            raise RuntimeError(
                f"PostgreSQL did not start: {err.stderr or err.stdout}"
                + (log.read_text() if log.exists() else "")
            ) from err
        return self.dsn

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(
                [_binary("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"]
            ),
            capture_output=True,
            timeout=60,
            check=False,  # best effort: a server that did not start has nothing to stop
        )
        shutil.rmtree(self.dir, ignore_errors=True)

    @classmethod
    def at(cls, directory: Path) -> PostgresServer:
        """The server started in ``directory`` (by another process), to stop."""
        server = cls.__new__(cls)
        server.dir = directory
        server.watchdog = None
        return server

    def __enter__(self) -> str:
        # Before the server exists, so there is no moment it runs unwatched.
        self.watchdog = subprocess.Popen(
            [sys.executable, __file__, "watch", str(os.getpid()), str(self.dir)],
            start_new_session=True,  # outlives a kill of this process group
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # holds no pipe of its owner's open
        )
        try:
            return self.start()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        if self.watchdog is not None:
            self.watchdog.send_signal(signal.SIGTERM)
            self.watchdog.wait(timeout=60)
            self.watchdog = None
        self.stop()


def watch(owner: int, directory: Path) -> None:
    """Waits for process ``owner`` to end, then stops the server in
    ``directory`` (if still there) and removes it. SIGTERM: the owner
    stopped it itself, nothing to do."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        pidfd = os.pidfd_open(owner)
    except ProcessLookupError:
        pidfd = None  # already gone
    if pidfd is not None:
        select.select([pidfd], [], [])
    if directory.exists():
        PostgresServer.at(directory).stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["start"]:
        server = PostgresServer()
        print(server.start(), server.dir)
    elif sys.argv[1:2] == ["stop"]:
        PostgresServer.at(Path(sys.argv[2])).stop()
    elif sys.argv[1:2] == ["watch"]:
        watch(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
