"""CPython's asyncio tests on corio's loop: each module in its own process,
each test under a watchdog; a hung test counts as failed and its module is
run again without it.

    python run.py [--loop corio|stock|uvloop] [--modules test_locks,test_queues] [--json out.json]

Prints per module: passed, failed (failures + errors), skipped, hung.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Part 1 of the Python front: the loop itself.
MODULES = [
    "test_futures2",
    "test_locks",
    "test_queues",
    "test_taskgroups",
    "test_timeouts",
    "test_waitfor",
    "test_context",
    "test_threads",
    "test_runners",
    "test_pep492",
    "test_eager_task_factory",
    "test_events",
    "test_sock_lowlevel",
    # Part 2: transports, servers, streams, SSL, sendfile, subprocesses.
    "test_streams",
    "test_server",
    "test_sendfile",
    "test_buffered_proto",
    "test_sslproto",
    "test_ssl",
    "test_subprocess",
    "test_unix_events",
    # Most of their tests build a TestLoop and never reach corio's loop;
    # the "on corio" count says how many do.
    "test_base_events",
    "test_tasks",
    "test_futures",
]


def run_module(module: str, loop: str, timeout: float) -> dict[str, object]:
    results: dict[str, str] = {}
    on_corio: set[str] = set()
    hung: list[str] = []
    for _attempt in range(10):
        cmd = [sys.executable, str(HERE / "runner.py"), module, "--timeout", str(timeout)]
        cmd += ["--loop", loop]
        for name in hung:
            cmd += ["--exclude", name]
        # Its own process group, so that a child a test forked and left
        # behind cannot keep the module's run (or its pipe) alive.
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout * 20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, _ = proc.communicate()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        started = None
        fds: list[int] | None = None
        for line in stdout.splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "FDS":
                fds = [int(x) for x in rest.split()]
            elif kind == "START":
                started = rest
            elif kind == "RESULT":
                status, where, name = rest.split(" ", 2)
                results[name] = status
                if where == "corio":
                    on_corio.add(name)
                started = None
        if started is not None and started not in results:
            # The watchdog (or a crash) ended the process inside this test.
            hung.append(started)
            results[started] = "hung"
            continue
        break
    counts = {
        s: sum(1 for v in results.values() if v == s)
        for s in ("pass", "fail", "error", "skip", "hung")
    }
    counts["on_corio"] = len(on_corio)
    # Descriptors open before and after the module's last run (None if it
    # hung or crashed).
    return {"counts": counts, "tests": results, "fds": fds}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", choices=("corio", "stock", "uvloop"), default="corio")
    parser.add_argument("--modules", default=",".join(MODULES))
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    report = {}
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for module in args.modules.split(","):
        try:
            __import__(f"test.test_asyncio.{module}")
        except ImportError:
            print(f"{version} {module}: not in this Python")
            continue
        report[module] = run_module(module, args.loop, args.timeout)
        c = report[module]["counts"]
        print(
            f"{version} {args.loop} {module}: "
            f"{c['pass']} passed, {c['fail'] + c['error']} failed, {c['skip']} skipped, "
            f"{c['hung']} hung ({c['on_corio']} ran on a corio loop), "
            f"descriptors before/after: {report[module]['fds']}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
