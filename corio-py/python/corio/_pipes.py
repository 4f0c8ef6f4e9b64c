"""Pipes and subprocesses: ``connect_read_pipe``/``connect_write_pipe``
(asyncio's ``BaseEventLoop``) get their transports here, and
``subprocess_exec``/``subprocess_shell`` spawn through ``subprocess.Popen``
as asyncio's own subprocess transport does (every ``Popen`` argument keeps
its meaning). The pipe transports are corio's (``_pipe_transports``:
asyncio's Unix ones with their hot paths in Rust); a child's exit is reported through a
pidfd watched by the loop (no child watcher, no SIGCHLD handler, no
helper thread), and reaped at once (no zombie). A program that set a
child watcher of its own (``asyncio.set_child_watcher``, before 3.14) gets
it used, as asyncio would."""

from __future__ import annotations

import asyncio
import os
import sys
import weakref
from asyncio import unix_events
from asyncio.log import logger
from collections.abc import Callable
from typing import Any

from ._pipe_transports import ReadPipeTransport, WritePipeTransport


class PipesMixin:
    """The pipe and subprocess methods of ``corio.Loop``."""

    # Provided by the loop.
    _add_reader: Callable[..., asyncio.Handle]
    _remove_reader: Callable[[Any], bool]
    call_soon: Callable[..., Any]
    call_soon_threadsafe: Callable[..., Any]
    create_future: Callable[[], asyncio.Future[Any]]

    def _init_pipes(self) -> None:
        # The pidfds of children not reaped yet, and their pids.
        self._child_pidfds: dict[int, int] = {}
        # Open pipe transports, released at close as the others are.
        self._pipe_transports: weakref.WeakSet[Any] = weakref.WeakSet()

    def _release_pipe_transports(self) -> None:
        """At close: the loop stops keeping its pipe transports alive."""
        for transport in list(self._pipe_transports):
            transport._io._release()

    def _make_read_pipe_transport(
        self,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> asyncio.ReadTransport:
        transport = ReadPipeTransport(self, pipe, protocol, waiter, extra)
        self._pipe_transports.add(transport)
        return transport

    def _make_write_pipe_transport(
        self,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> asyncio.WriteTransport:
        transport = WritePipeTransport(self, pipe, protocol, waiter, extra)
        self._pipe_transports.add(transport)
        return transport

    async def _make_subprocess_transport(
        self,
        protocol: asyncio.BaseProtocol,
        args: Any,
        shell: bool,
        stdin: Any,
        stdout: Any,
        stderr: Any,
        bufsize: int,
        extra: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> asyncio.SubprocessTransport:
        popen_args = (protocol, args, shell, stdin, stdout, stderr, bufsize)
        watcher = getattr(asyncio.get_event_loop_policy(), "_watcher", None)
        if watcher is None:
            waiter = self.create_future()
            transp = self._spawn(waiter, popen_args, extra, kwargs)
            self._watch_child(transp)
            return await self._started(transp, waiter)
        # asyncio's way, with the child watcher the program installed. Until
        # 3.11 asyncio asks what __enter__ returns; from 3.12 on, the
        # watcher itself.
        with watcher as entered:
            if sys.version_info >= (3, 12):
                entered = watcher
            if not entered.is_active():
                raise RuntimeError(
                    "asyncio.get_child_watcher() is not activated, "
                    "subprocess support is not installed."
                )
            waiter = self.create_future()
            transp = self._spawn(waiter, popen_args, extra, kwargs)
            entered.add_child_handler(transp.get_pid(), self._child_watcher_callback, transp)
            return await self._started(transp, waiter)

    def _spawn(
        self,
        waiter: asyncio.Future[Any],
        popen_args: tuple[Any, ...],
        extra: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> Any:
        """asyncio's Unix subprocess transport: ``subprocess.Popen`` and
        pipe transports for the standard streams."""
        return unix_events._UnixSubprocessTransport(  # type: ignore[attr-defined]
            self, *popen_args, waiter=waiter, extra=extra, **kwargs
        )

    async def _started(self, transp: Any, waiter: asyncio.Future[Any]) -> Any:
        """Waits until the transport's pipes are connected; on failure the
        child is closed and waited for."""
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transp.close()
            await transp._wait()
            raise
        return transp

    def _child_watcher_callback(self, pid: int, returncode: int, transp: Any) -> None:
        self.call_soon_threadsafe(transp._process_exited, returncode)

    def _watch_child(self, transp: Any) -> None:
        """Reports the child's exit to ``transp`` when its pidfd becomes
        readable."""
        pid = transp.get_pid()
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            # Already gone (and maybe reaped): report what waitpid says.
            self.call_soon(self._reap_child, pid, -1, transp)
            return
        self._child_pidfds[pidfd] = pid
        self._add_reader(pidfd, self._reap_child, pid, pidfd, transp)

    def _close_child_pidfds(self) -> None:
        """At close: children still running are no longer watched (a child
        that exits later stays a zombie until this process reaps or exits)."""
        for pidfd, pid in list(self._child_pidfds.items()):
            self._remove_reader(pidfd)
            os.close(pidfd)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        self._child_pidfds.clear()

    def _reap_child(self, pid: int, pidfd: int, transp: Any) -> None:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            # Someone else reaped it (a SIGCHLD handler of the program's).
            logger.warning("Unknown child process pid %d, will report returncode 255", pid)
            returncode = 255
        else:
            if done == 0:
                return  # not exited yet: the pidfd stays watched
            returncode = os.waitstatus_to_exitcode(status)
        if pidfd >= 0:
            self._remove_reader(pidfd)
            os.close(pidfd)
            self._child_pidfds.pop(pidfd, None)
        transp._process_exited(returncode)
