"""corio.Loop against asyncio's documented semantics, on real sockets,
threads and child processes."""

from __future__ import annotations

import asyncio
import dis
import gc
import inspect
import io
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import corio
import pytest


@pytest.fixture
def loop():
    lp = corio.new_event_loop()
    yield lp
    lp.close()


def test_the_loop_is_corios_and_an_abstract_event_loop(loop):
    assert isinstance(loop, asyncio.AbstractEventLoop)

    async def main():
        return asyncio.get_running_loop()

    assert loop.run_until_complete(main()) is loop


def test_call_soon_runs_in_fifo_order_and_cancel_works(loop):
    seen = []
    loop.call_soon(seen.append, 1)
    h = loop.call_soon(seen.append, 2)
    loop.call_soon(seen.append, 3)
    h.cancel()
    assert h.cancelled()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [1, 3]


def test_call_at_orders_by_exact_deadline_fifo_on_ties(loop):
    seen = []
    base = loop.time() + 0.02
    for label, offset in [("a", 0.0007), ("b", 0.0002), ("c", 0.0007), ("d", 0.0)]:
        h = loop.call_at(base + offset, seen.append, label)
        assert h.when() == base + offset
    loop.call_at(base + 0.01, loop.stop)
    loop.run_forever()
    assert seen == ["d", "b", "a", "c"]


def test_time_is_time_monotonic(loop):
    before = time.monotonic()
    now = loop.time()
    after = time.monotonic()
    assert before <= now <= after


def test_a_timer_never_fires_early(loop):
    fired = []
    start = loop.time()
    loop.call_later(0.05, lambda: fired.append(loop.time()))
    loop.call_later(0.08, loop.stop)
    loop.run_forever()
    assert fired and fired[0] - start >= 0.05


def test_cancelled_timers_do_not_run(loop):
    seen = []
    handles = [loop.call_later(0.01, seen.append, i) for i in range(100)]
    for h in handles[::2]:
        h.cancel()
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    assert seen == list(range(1, 100, 2))


def test_stop_before_run_forever_runs_one_iteration(loop):
    seen = []
    loop.call_soon(seen.append, 1)
    loop.call_soon(lambda: loop.call_soon(seen.append, 2))
    loop.stop()
    started = time.monotonic()
    loop.run_forever()
    assert time.monotonic() - started < 5
    assert seen == [1]


def test_call_soon_threadsafe_wakes_an_idle_loop(loop):
    fut = loop.create_future()

    def other_thread():
        time.sleep(0.05)
        loop.call_soon_threadsafe(fut.set_result, "woken")

    t = threading.Thread(target=other_thread)
    t.start()
    started = time.monotonic()
    assert loop.run_until_complete(asyncio.wait_for(fut, 10)) == "woken"
    assert time.monotonic() - started < 5
    t.join()


def test_a_raising_callback_goes_to_the_exception_handler_and_the_loop_goes_on(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    seen = []

    def boom():
        raise ValueError("boom")

    loop.call_soon(boom)
    loop.call_soon(seen.append, "after")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["after"]
    assert isinstance(contexts[0]["exception"], ValueError)


def test_keyboard_interrupt_in_a_callback_stops_the_loop_and_propagates(loop):
    def interrupt():
        raise KeyboardInterrupt

    loop.call_soon(interrupt)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert not loop.is_running()
    # The loop can run again afterwards.
    assert loop.run_until_complete(asyncio.sleep(0, result=5)) == 5


def test_a_subclass_call_soon_serves_tasks_and_a_closed_loop_is_freed_at_once():
    # Before 3.12 the loop keeps one bound `call_soon` (for the C Task's
    # getattr); a subclass's own must still be what tasks call, and closing
    # drops that binding so the loop is freed by reference count.
    class Counting(corio.Loop):
        calls = 0

        def call_soon(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            Counting.calls += 1
            return super().call_soon(*args, **kwargs)

    sub = Counting()
    try:
        sub.run_until_complete(asyncio.sleep(0))
    finally:
        sub.close()
    assert Counting.calls >= 2, "task steps went through the subclass's call_soon"

    gc.disable()
    try:
        plain = corio.new_event_loop()
        plain.run_until_complete(asyncio.sleep(0))
        assert plain.call_soon is not None  # made the binding, if any
        plain.close()
        assert plain.call_soon is not None  # makes none once closed
        ref = weakref.ref(plain)
        del plain
        assert ref() is None, "a closed loop waits for the garbage collector"
    finally:
        gc.enable()


def test_call_soon_looked_up_or_called_unbound_behaves_as_asyncios(loop):
    bound = loop.call_soon
    assert bound.__self__ is loop and bound == loop.call_soon
    assert bound.__name__ == "call_soon" == corio.Loop.call_soon.__name__
    assert str(inspect.signature(bound)) == "(callback, /, *args, context=None)"
    if sys.version_info < (3, 12):
        # The C Task's getattr gets the loop's one bound method, not a new one.
        assert loop.call_soon is bound
    seen: list[int] = []
    assert not corio.Loop.call_soon(loop, seen.append, 1).cancelled()
    bound(seen.append, 2)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [1, 2]
    with pytest.raises(TypeError):
        corio.Loop.call_soon(object(), print)
    with pytest.raises(TypeError):
        corio.Loop.call_soon.__get__(object())


def test_an_unclosed_loop_holding_its_bound_call_soon_is_collected():
    lp = corio.new_event_loop()
    lp.run_until_complete(asyncio.sleep(0))
    assert lp.call_soon.__self__ is lp
    ref = weakref.ref(lp)
    del lp
    gc.collect()
    assert ref() is None, "the loop's bound call_soon kept it alive"


def _attribute_loads(function) -> list[str]:  # type: ignore[no-untyped-def]
    """The specialized instructions loading attributes in `function`."""
    out = io.StringIO()
    dis.dis(function, adaptive=True, file=out)  # type: ignore[call-arg]
    return [
        line.split()[1] if line.split()[0].isdigit() else line.split()[0]
        for line in out.getvalue().splitlines()
        if "LOAD_ATTR" in line or "LOAD_METHOD" in line
    ]


@pytest.mark.skipif(
    not ((3, 11) <= sys.version_info[:2] < (3, 13)),
    reason="3.11 and 3.12 specialize only on inline attribute values",
)
@pytest.mark.parametrize("subclass", [False, True])
def test_loads_of_the_loops_methods_and_attributes_specialize(subclass):
    # A loop whose attributes became a dictionary gets only the generic,
    # slow attribute load in 3.11/3.12, for every method call on it.
    class Sub(corio.Loop):
        pass

    lp = Sub() if subclass else corio.new_event_loop()
    try:
        lp.run_until_complete(asyncio.sleep(0))

        def use(lp):  # type: ignore[no-untyped-def]
            lp.call_soon(print)
            lp.get_debug()
            return lp._ready

        for _ in range(100):
            use(lp)
        loads = _attribute_loads(use)
        on_loop = [op for op in loads if "METHOD" in op or "INSTANCE" in op]
        assert len(on_loop) == 3 and all(
            "WITH_VALUES" in op or "INSTANCE_VALUE" in op for op in on_loop
        ), loads
    finally:
        lp.close()


def test_misuse_gets_asyncios_errors(loop):
    async def nested():
        with pytest.raises(RuntimeError):
            loop.run_until_complete(asyncio.sleep(0))

    loop.run_until_complete(nested())
    loop.close()
    with pytest.raises(RuntimeError):
        loop.call_soon(print)
    with pytest.raises(RuntimeError):
        loop.run_until_complete(asyncio.sleep(0))
    loop.close()  # twice is fine


def test_tasks_futures_and_executors(loop):
    async def main():
        task = asyncio.create_task(asyncio.sleep(0.01, result="task"), name="named")
        assert task.get_name() == "named"
        fut = loop.create_future()
        loop.call_later(0.01, fut.set_result, "future")
        in_thread = await loop.run_in_executor(None, lambda: threading.get_ident())
        assert in_thread != threading.get_ident()
        return await asyncio.gather(task, fut)

    assert loop.run_until_complete(main()) == ["task", "future"]


def test_add_reader_is_level_triggered_and_remove_reader_stops_it(loop):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    calls = []

    def on_readable():
        calls.append(1)
        if len(calls) == 3:  # data never read: reported again each time
            assert loop.remove_reader(b)
            loop.call_later(0.05, loop.stop)

    loop.add_reader(b, on_readable)
    a.send(b"x")
    loop.run_forever()
    assert len(calls) == 3
    assert not loop.remove_reader(b)
    a.close()
    b.close()


def test_add_writer_and_remove_writer(loop):
    a, b = socket.socketpair()
    fut = loop.create_future()
    loop.add_writer(a, lambda: fut.done() or fut.set_result("writable"))
    assert loop.run_until_complete(asyncio.wait_for(fut, 5)) == "writable"
    assert loop.remove_writer(a)
    a.close()
    b.close()


def test_getaddrinfo_runs_off_the_loop_thread(loop):
    infos = loop.run_until_complete(loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM))
    assert infos[0][4] == ("127.0.0.1", 80)


def test_corio_run_and_install():
    async def main():
        return type(asyncio.get_running_loop())

    assert corio.run(main()) is corio.Loop
    old = asyncio.get_event_loop_policy()
    corio.install()
    try:
        assert asyncio.run(main()) is corio.Loop
    finally:
        asyncio.set_event_loop_policy(old)


def test_handles_and_loops_collected_on_another_thread_do_not_crash():
    loops = [corio.new_event_loop() for _ in range(20)]
    handles = [lp.call_later(100, print) for lp in loops]
    handles += [lp.call_soon(print) for lp in loops]
    futures = [lp.create_future() for lp in loops]
    for lp in loops:
        lp.close()
    # An open loop too, with a pending handle and a future of its own.
    still_open = corio.new_event_loop()
    handles.append(still_open.call_later(100, print))
    futures.append(still_open.create_future())

    def collect():
        nonlocal loops, handles, futures
        del loops, handles, futures
        gc.collect()

    t = threading.Thread(target=collect)
    t.start()
    t.join()
    gc.collect()
    still_open.close()


def test_ctrl_c_stops_corio_run_with_keyboard_interrupt():
    code = textwrap.dedent(
        """
        import asyncio, corio, os, signal, sys
        async def main():
            asyncio.get_running_loop().call_later(0.2, os.kill, os.getpid(), signal.SIGINT)
            await asyncio.sleep(30)
        try:
            corio.run(main())
        except KeyboardInterrupt:
            print("interrupted")
            sys.exit(0)
        sys.exit(1)
        """
    )
    # The child starts with SIGINT at its default even if this process was
    # started ignoring it (a background job of a non-interactive shell is),
    # so that Python installs its own handler, as in a terminal.
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert out.returncode == 0, out.stderr
    assert "interrupted" in out.stdout


def test_a_forked_child_can_run_a_corio_loop():
    import multiprocessing

    async def work():
        await asyncio.sleep(0.01)
        return os.getpid()

    # Use corio in the parent first: its threads and global state must not
    # trouble the child.
    assert corio.run(work()) == os.getpid()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        child_pid = pool.apply(_run_in_child)
    assert child_pid != os.getpid()


def _run_in_child():
    async def work():
        await asyncio.sleep(0.01)
        return os.getpid()

    return corio.run(work())


def test_sigint_default_handler_untouched_after_run():
    async def main():
        await asyncio.sleep(0)

    # Whatever SIGINT's handler was (Python's own, or SIG_IGN when the test
    # run was started as a background job), corio.run leaves it as it was.
    before = signal.getsignal(signal.SIGINT)
    corio.run(main())
    assert signal.getsignal(signal.SIGINT) is before


def test_a_loop_made_in_one_thread_runs_in_another():
    loop = corio.new_event_loop()
    result = []

    def run():
        result.append(loop.run_until_complete(asyncio.sleep(0.01, result="ran")))

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert result == ["ran"]
    assert loop.run_until_complete(asyncio.sleep(0, result="back")) == "back"
    loop.close()


def test_other_threads_get_runtime_error_while_the_loop_runs(loop):
    errors = []
    started = threading.Event()

    def other():
        started.wait()
        try:
            loop.call_soon(print)
        except RuntimeError as e:
            errors.append(e)
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=other)
    t.start()
    loop.call_soon(started.set)
    loop.run_forever()
    t.join()
    assert len(errors) == 1


def test_the_package_docstring_example_runs():
    import doctest

    failures, tried = doctest.testmod(corio, verbose=False)
    assert tried > 0 and failures == 0


def test_the_readme_example_runs():
    async def main():
        await asyncio.sleep(0.1)
        return "done"

    assert corio.run(main()) == "done"
    old = asyncio.get_event_loop_policy()
    corio.install()
    try:
        assert asyncio.run(main()) == "done"
    finally:
        asyncio.set_event_loop_policy(old)


def test_sock_coroutines_on_real_sockets(loop):
    async def main():
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        client = socket.socket()
        client.setblocking(False)
        accept = asyncio.ensure_future(loop.sock_accept(listener))
        await loop.sock_connect(client, listener.getsockname())
        server, _ = await accept
        payload = bytes(range(256)) * 8192  # 2 MiB: sendall must wait
        sender = asyncio.ensure_future(loop.sock_sendall(client, payload))
        got = bytearray()
        while len(got) < len(payload):
            chunk = await loop.sock_recv(server, 65536)
            assert chunk
            got += chunk
        await sender
        assert bytes(got) == payload
        buf = bytearray(4)
        await loop.sock_sendall(server, b"pong")
        assert await loop.sock_recv_into(client, buf) == 4 and buf == b"pong"
        with pytest.raises(ValueError):
            await loop.sock_recv(socket.socket(), 1)  # blocking socket
        for s in (listener, client, server):
            s.close()
        udp_a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for s in (udp_a, udp_b):
            s.setblocking(False)
            s.bind(("127.0.0.1", 0))
        await loop.sock_sendto(udp_a, b"datagram", udp_b.getsockname())
        data, addr = await loop.sock_recvfrom(udp_b, 100)
        assert data == b"datagram" and addr == udp_a.getsockname()
        udp_a.close()
        udp_b.close()

    loop.run_until_complete(asyncio.wait_for(main(), 30))


def test_sock_connect_refused_is_an_error(loop):
    async def main():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        client = socket.socket()
        client.setblocking(False)
        with pytest.raises(ConnectionRefusedError):
            await loop.sock_connect(client, ("127.0.0.1", port))
        client.close()

    loop.run_until_complete(asyncio.wait_for(main(), 30))


def test_signal_handlers_run_on_the_loop(loop):
    got = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, lambda: got.set_result("usr1"))
    loop.call_later(0.05, os.kill, os.getpid(), signal.SIGUSR1)
    assert loop.run_until_complete(asyncio.wait_for(got, 10)) == "usr1"
    assert loop.remove_signal_handler(signal.SIGUSR1)
    assert not loop.remove_signal_handler(signal.SIGUSR1)
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    with pytest.raises(TypeError):
        loop.add_signal_handler(signal.SIGUSR1, asyncio.sleep)


def _child_runs_its_own_corio_loop():
    loop = corio.new_event_loop()
    try:
        return loop.run_until_complete(asyncio.sleep(0, result="child"))
    finally:
        loop.close()


def test_a_child_forked_from_inside_a_running_loop_can_run_its_own():
    # ProcessPoolExecutor forks from inside the running loop's callback:
    # the child must not believe the parent's loop runs on its thread.
    import concurrent.futures
    import multiprocessing

    async def main():
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
            return await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(pool, _child_runs_its_own_corio_loop),
                60,
            )

    assert corio.run(main()) == "child"


def test_an_unclosed_loop_warns():
    import warnings

    lp = corio.new_event_loop()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del lp
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager_task_factory is 3.12+")
def test_eager_task_factory(loop):
    loop.set_task_factory(asyncio.eager_task_factory)
    seen = []

    async def body():
        seen.append("started")
        return 1

    async def main():
        task = asyncio.create_task(body())
        assert seen == ["started"], "ran eagerly, before create_task returned"
        return await task

    assert loop.run_until_complete(main()) == 1


def test_shutdown_asyncgens_and_default_executor(loop):
    closed = []

    async def gen():
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    async def main():
        g = gen()
        assert await g.__anext__() == 1
        await loop.run_in_executor(None, time.sleep, 0)
        return g

    g = loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert closed == [True]
    assert loop._default_executor is not None
    loop.run_until_complete(loop.shutdown_default_executor())
    del g


def test_a_million_callbacks_timers_futures_and_tasks_leak_nothing(loop):
    """A million of each kind's worth of churn (a quarter million callbacks,
    timers, futures and tasks) plus a thousand loops, after a warm-up of
    the same: RSS grows by under 1%, no Python object and no fd is left."""
    import resource

    async def nothing() -> None:
        pass

    def churn(n):
        count = 0

        def tick(*_):
            nonlocal count
            count += 1

        for _ in range(n // 1000):
            for _ in range(250):
                loop.call_soon(tick)
            for _ in range(125):
                loop.call_later(0, tick)
            for _ in range(125):
                loop.call_later(3600, tick).cancel()
            for _ in range(250):
                fut = loop.create_future()
                fut.add_done_callback(tick)
                loop.call_soon(fut.set_result, None)
            for _ in range(250):
                loop.create_task(nothing()).add_done_callback(tick)
            loop.run_until_complete(asyncio.sleep(0))
            loop.run_until_complete(asyncio.sleep(0))
        for _ in range(1000):
            corio.new_event_loop().close()
        return count

    churn(1_000_000)  # warm-up
    gc.collect()
    objects = len(gc.get_objects())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fds = len(os.listdir("/proc/self/fd"))
    assert churn(1_000_000) == 875_000
    gc.collect()
    assert len(gc.get_objects()) <= objects
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss <= rss * 1.01
    assert len(os.listdir("/proc/self/fd")) == fds


def test_cycles_through_handles_are_collected_once_the_loop_lets_go(loop):
    """The loop's handles are not tracked by the garbage collector; an
    object that keeps its own handle (a reference cycle through the
    handle's callback) must still be collected after the handle ran, was
    cancelled, or its loop was closed with it pending: the handle lets go
    of its callback, arguments, context and loop then."""
    import weakref

    class Owner:
        def __init__(self, schedule):
            self.handle = schedule(self.method)

        def method(self):
            pass

    def owners():
        yield Owner(loop.call_soon)  # runs
        yield Owner(lambda f: loop.call_later(0, f))  # fires
        cancelled = Owner(lambda f: loop.call_later(3600, f))
        cancelled.handle.cancel()  # leaves the wheel
        yield cancelled
        soon_cancelled = Owner(loop.call_soon)
        soon_cancelled.handle.cancel()  # stays queued until its turn
        yield soon_cancelled

    made = list(owners())
    assert not any(gc.is_tracked(owner.handle) for owner in made)
    kept = made[0].handle
    refs = [weakref.ref(owner) for owner in made]
    del made
    gc.collect()
    assert all(ref() is not None for ref in refs[:2])  # the loop holds them
    loop.run_until_complete(asyncio.sleep(0.01))
    gc.collect()
    assert [ref() for ref in refs] == [None] * 4
    # What a handle that ran still says (asyncio's would keep the rest).
    assert not kept.cancelled() and kept._callback is None and kept._args is None
    assert kept.get_context() is None and kept._loop is None
    assert repr(kept) == "<Handle>"

    other = corio.new_event_loop()
    pending = weakref.ref(Owner(lambda f: other.call_later(3600, f)))
    other.close()
    gc.collect()
    assert pending() is None


def test_rust_handles_have_asyncios_handle_api(loop):
    import contextvars

    var = contextvars.ContextVar("var", default="outer")
    seen = []
    ctx = contextvars.copy_context()
    ctx.run(var.set, "inner")
    h = loop.call_soon(lambda *a: seen.append((a, var.get())), 1, 2, context=ctx)
    assert not h.cancelled() and h.get_context() is ctx and h._args == (1, 2)
    assert "lambda" in repr(h) and repr(h).startswith("<Handle")
    t = loop.call_at(loop.time() + 3600, print)
    t2 = loop.call_later(7200, print)
    assert t.when() > loop.time() and t < t2 and t._scheduled
    t.cancel()
    assert t.cancelled() and not t._scheduled and t._callback is None
    assert "cancelled" in repr(t) and "when=" in repr(t)
    assert loop.call_at(5, print).when() == 5  # kept as given
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [((1, 2), "inner")]


def test_a_raising_rust_handle_reports_like_asyncio(loop):
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))

    def boom():
        raise ValueError("boom")

    h = loop.call_soon(boom)
    loop.call_soon(loop.stop)
    loop.run_forever()
    (ctx,) = errors
    assert ctx["message"].startswith("Exception in callback ") and "boom" in ctx["message"]
    assert isinstance(ctx["exception"], ValueError) and ctx["handle"] is h


def test_call_later_zero_runs_at_the_next_iteration(loop):
    ran = []
    for i in range(100):
        loop.call_later(0, ran.append, i)
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert ran == list(range(i + 1))


def test_debug_mode_warns_about_a_slow_callback(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.05
    loop.call_soon(time.sleep, 0.1)
    loop.call_soon(loop.stop)
    with caplog.at_level("WARNING", logger="asyncio"):
        loop.run_forever()
    assert any("took" in r.getMessage() and "sleep" in r.getMessage() for r in caplog.records)


def test_scheduling_methods_take_asyncios_arguments(loop):
    """call_soon/call_later/call_at parse their arguments by hand (raw
    vectorcall methods): the same calls as asyncio's are accepted, and
    wrong ones are TypeErrors, not crashes."""
    ran = []
    loop.call_soon(callback=ran.append, context=None)  # no args: TypeError at run
    h = loop.call_soon(ran.append, "soon")
    assert h._args == ("soon",)
    loop.call_later(delay=0, callback=ran.append)
    loop.call_at(loop.time(), ran.append, "at", context=h.get_context())
    for bad in (
        lambda: loop.call_soon(),
        lambda: loop.call_soon(ran.append, 1, nope=2),
        lambda: loop.call_later(0, ran.append, 1, callback=ran.append),
        lambda: loop.call_later(None, ran.append),
        lambda: loop.call_at("soon", ran.append),
    ):
        with pytest.raises(TypeError):
            bad()
    errors = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx["exception"]))
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert ran == ["soon", "at"]
    assert [type(e) for e in errors] == [TypeError, TypeError]


def test_futures_and_tasks_belong_to_their_loop_running_or_not(loop):
    """create_future/create_task hand the loop to asyncio while it runs
    (one keyword dictionary for the whole run) and when it does not; a
    finished run leaves no reference from the loop to itself."""
    outside = loop.create_future()
    assert outside.get_loop() is loop

    async def main():
        fut = loop.create_future()
        task = loop.create_task(asyncio.sleep(0, "t"))
        other = corio.new_event_loop()
        try:
            assert other.create_future().get_loop() is other
        finally:
            other.close()
        loop.call_soon(fut.set_result, "f")
        return fut.get_loop(), task.get_loop(), await fut, await task

    assert loop.run_until_complete(main()) == (loop, loop, "f", "t")
    outside.cancel()

    # A loop that ran is freed by reference counting alone: the run's
    # keyword dictionary (which refers to the loop) went with the run.
    lp = corio.new_event_loop()
    lp.run_until_complete(asyncio.sleep(0))
    lp.close()
    ref = weakref.ref(lp)
    gc.disable()
    try:
        del lp
        assert ref() is None
    finally:
        gc.enable()
