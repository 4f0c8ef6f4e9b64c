"""Runs one module of CPython's ``test.test_asyncio`` on corio's loop (or
on the stock loop with ``--loop stock``, or uvloop's with ``--loop
uvloop``), each test under a watchdog.

    python runner.py test_locks [--loop corio|stock|uvloop] [--exclude NAME ...] [--timeout 30]

Prints one line per test, ``RESULT <status> <test id>``, where status is
``pass``, ``fail``, ``error`` or ``skip``, and ``START <test id>`` before
each test, so that a hang (the watchdog kills the process after
``--timeout`` seconds) names its test.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import gc
import importlib
import os
import signal
import sys
import unittest


def use_corio() -> None:
    """asyncio's default policy becomes corio's, also after a test resets
    it with ``set_event_loop_policy(None)``."""
    import corio

    asyncio.DefaultEventLoopPolicy = corio.EventLoopPolicy  # type: ignore[misc]
    asyncio.events.DefaultEventLoopPolicy = corio.EventLoopPolicy  # type: ignore[attr-defined]
    asyncio.set_event_loop_policy(corio.EventLoopPolicy())
    # Count the corio loops the tests create (to tell which ran on corio).
    original_init = corio.Loop.__init__

    def counting_init(self: corio.Loop) -> None:
        Result.corio_loops += 1
        original_init(self)

    corio.Loop.__init__ = counting_init  # type: ignore[method-assign]


def use_uvloop() -> None:
    """asyncio's default policy becomes uvloop's (the peer's column of the
    conformance table)."""
    import uvloop

    asyncio.DefaultEventLoopPolicy = uvloop.EventLoopPolicy  # type: ignore[misc]
    asyncio.events.DefaultEventLoopPolicy = uvloop.EventLoopPolicy  # type: ignore[attr-defined]
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


class Result(unittest.TextTestResult):
    """Reports each test on its own line, and re-arms the watchdog."""

    timeout = 30.0
    corio_loops = 0
    # Set by startTest; a class-level skip (3.12 on) reports before any.
    _loops_before = 0
    _started = ""

    def startTest(self, test: unittest.TestCase) -> None:
        print(f"START {test.id()}", flush=True)
        self._started = test.id()
        self._loops_before = Result.corio_loops
        faulthandler.dump_traceback_later(self.timeout, exit=True)
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        if os.environ.get("CORIO_CONFORMANCE_FDS"):
            # Which test leaves descriptors open (for debugging leaks).
            gc.collect()
            print(f"FDCOUNT {len(os.listdir('/proc/self/fd'))} {test.id()}", file=sys.stderr)

    def _report(self, status: str, test: unittest.TestCase) -> None:
        # Whether this test made a corio loop (its own or through the policy).
        started = self._started == test.id()
        on_corio = "corio" if started and Result.corio_loops > self._loops_before else "other"
        print(f"RESULT {status} {on_corio} {test.id()}", flush=True)

    def addSuccess(self, test):  # type: ignore[no-untyped-def]
        super().addSuccess(test)
        self._report("pass", test)

    def addFailure(self, test, err):  # type: ignore[no-untyped-def]
        super().addFailure(test, err)
        self._report("fail", test)

    def addError(self, test, err):  # type: ignore[no-untyped-def]
        super().addError(test, err)
        self._report("error", test)

    def addSkip(self, test, reason):  # type: ignore[no-untyped-def]
        super().addSkip(test, reason)
        self._report("skip", test)

    def addExpectedFailure(self, test, err):  # type: ignore[no-untyped-def]
        super().addExpectedFailure(test, err)
        self._report("pass", test)

    def addUnexpectedSuccess(self, test):  # type: ignore[no-untyped-def]
        super().addUnexpectedSuccess(test)
        self._report("fail", test)


# Modules whose tests take their loop from a factory method: their mixin
# runs once more, as class ``LoopTests``, on the loop under test (corio's,
# uvloop's, or for the stock loop asyncio's selector loop, so that test ids
# match).
FACTORY_MIXINS = {
    "test_events": "EventLoopTestsMixin",
    "test_sock_lowlevel": "BaseSockTestsMixin",
}


def new_loop(loop: str) -> asyncio.AbstractEventLoop:
    """A new loop of the kind under test (the stock one: asyncio's selector
    loop)."""
    if loop == "stock":
        return asyncio.SelectorEventLoop()
    if loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    import corio

    return corio.Loop()


def factory_tests(module: object, name: str, loop: str) -> list[unittest.TestCase]:
    mixin = getattr(module, FACTORY_MIXINS[name])
    from test.test_asyncio import utils as test_utils

    def create_event_loop(self: object) -> asyncio.AbstractEventLoop:
        return new_loop(loop)

    cls = type("LoopTests", (mixin, test_utils.TestCase), {"create_event_loop": create_event_loop})
    cls.__module__ = module.__name__  # type: ignore[attr-defined]
    return flatten(unittest.defaultTestLoader.loadTestsFromTestCase(cls))


# Modules whose selector-loop test classes make their loop in a method:
# each such class runs as ``LoopTests<Class>``, a subclass whose method
# returns the loop under test (for the stock loop, the method is left as
# it is, so that test ids match).
FACTORY_CLASSES = {
    "test_server": ("SelectorStartServerTests", "new_loop"),
    "test_buffered_proto": ("BufferedProtocolSelectorTests", "new_loop"),
    "test_sslproto": ("SelectorStartTLSTests", "new_loop"),
    "test_sendfile": ("SelectEventLoopTests", "create_event_loop"),
}


def factory_class_tests(module: object, name: str, loop: str) -> list[unittest.TestCase]:
    class_name, method = FACTORY_CLASSES[name]
    base = getattr(module, class_name)
    namespace: dict[str, object] = {}
    if loop != "stock":

        def make_loop(self: object) -> asyncio.AbstractEventLoop:
            return new_loop(loop)

        namespace[method] = make_loop
    cls = type(f"LoopTests{class_name}", (base,), namespace)
    cls.__module__ = module.__name__  # type: ignore[attr-defined]
    return flatten(unittest.defaultTestLoader.loadTestsFromTestCase(cls))


def flatten(suite: unittest.TestSuite) -> list[unittest.TestCase]:
    tests: list[unittest.TestCase] = []
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            tests.extend(flatten(item))
        else:
            tests.append(item)
    return tests


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("module")
    parser.add_argument("--loop", choices=("corio", "stock", "uvloop"), default="corio")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    # A shell's background job starts with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: the tests that interrupt
    # themselves (test_runners) would hang. Restore Python's default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.loop == "corio":
        use_corio()
    elif args.loop == "uvloop":
        use_uvloop()
    Result.timeout = args.timeout
    module = importlib.import_module(f"test.test_asyncio.{args.module}")
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    tests = flatten(suite)
    if args.module in FACTORY_MIXINS:
        # The module's own loop-specific classes run asyncio's loops: only
        # the mixin's tests on the loop under test, and the module's other
        # (loop-independent) classes, run.
        mixin = getattr(module, FACTORY_MIXINS[args.module])
        tests = [t for t in tests if not isinstance(t, mixin)]
        tests += factory_tests(module, args.module, args.loop)
    if args.module in FACTORY_CLASSES:
        base = getattr(module, FACTORY_CLASSES[args.module][0])
        tests = [t for t in tests if type(t) is not base]
        tests += factory_class_tests(module, args.module, args.loop)
    tests = [t for t in tests if t.id() not in set(args.exclude)]
    runner = unittest.TextTestRunner(stream=sys.stderr, resultclass=Result, verbosity=0)
    gc.collect()
    fds_before = len(os.listdir("/proc/self/fd"))
    runner.run(unittest.TestSuite(tests))
    gc.collect()
    # Descriptors the module's tests left open (the bar: none).
    print(f"FDS {fds_before} {len(os.listdir('/proc/self/fd'))}", flush=True)
    if os.environ.get("CORIO_CONFORMANCE_FDS"):
        for fd in sorted(os.listdir("/proc/self/fd"), key=int):
            try:
                print("FD", fd, os.readlink(f"/proc/self/fd/{fd}"), file=sys.stderr)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
