"""What asyncio's ``BaseEventLoop`` leaves to the loop for stream
connections and servers: making a socket's transport (plain or SSL) and
accepting connections on a listening socket. ``create_connection``,
``create_server``, ``connect_accepted_socket``, ``start_tls`` and the
streams API are ``BaseEventLoop``'s own, on top of these."""

from __future__ import annotations

import asyncio
import errno
import socket
import weakref
from asyncio import constants, sslproto, trsock
from asyncio.log import logger
from collections.abc import Callable
from typing import Any

from ._transports import SocketTransport

# asyncio has ssl_shutdown_timeout from 3.11 on.
HAS_SHUTDOWN_TIMEOUT = hasattr(constants, "SSL_SHUTDOWN_TIMEOUT")


class ServingMixin:
    """The transport-making and accepting methods of ``corio.Loop``."""

    # Provided by the loop.
    _debug: bool
    _add_reader: Callable[..., asyncio.Handle]
    _remove_reader: Callable[[Any], bool]
    call_later: Callable[..., asyncio.TimerHandle]
    call_exception_handler: Callable[[dict[str, Any]], None]
    create_future: Callable[[], asyncio.Future[Any]]
    create_task: Callable[..., asyncio.Task[Any]]
    _cleanup_unix_socket: Callable[[socket.socket], None]

    def _init_serving(self) -> None:
        # asyncio's name: which transport (socket or datagram) owns each
        # descriptor.
        self._transports: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()

    def _release_transports(self) -> None:
        """At close: the loop stops keeping its transports alive (one left
        open is then finalized by the garbage collector, as asyncio's)."""
        for transport in list(self._transports.values()):
            io = getattr(transport, "_io", None)
            if io is not None:
                io._release()

    def _ensure_fd_no_transport(self, fd: Any) -> None:
        fileno = fd
        if not isinstance(fileno, int):
            try:
                fileno = int(fileno.fileno())
            except (AttributeError, TypeError, ValueError):
                raise ValueError(f"Invalid file object: {fd!r}") from None
        transport = self._transports.get(fileno)
        if transport is not None and not transport.is_closing():
            raise RuntimeError(f"File descriptor {fd!r} is used by transport {transport!r}")

    def _make_socket_transport(
        self,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[Any] | None = None,
        *,
        extra: dict[str, Any] | None = None,
        server: Any = None,
    ) -> SocketTransport:
        return SocketTransport(self, sock, protocol, waiter, extra, server)

    def _make_ssl_transport(
        self,
        rawsock: socket.socket,
        protocol: asyncio.BaseProtocol,
        sslcontext: Any,
        waiter: asyncio.Future[Any] | None = None,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        extra: dict[str, Any] | None = None,
        server: Any = None,
        ssl_handshake_timeout: float | None = constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout: float | None = getattr(constants, "SSL_SHUTDOWN_TIMEOUT", 30.0),
    ) -> asyncio.Transport:
        # The running Python's own SSL protocol over corio's transport.
        kwargs: dict[str, Any] = {"ssl_handshake_timeout": ssl_handshake_timeout}
        if HAS_SHUTDOWN_TIMEOUT:
            kwargs["ssl_shutdown_timeout"] = ssl_shutdown_timeout
        ssl_protocol = sslproto.SSLProtocol(
            self, protocol, sslcontext, waiter, server_side, server_hostname, **kwargs
        )
        SocketTransport(self, rawsock, ssl_protocol, extra=extra, server=server)
        return ssl_protocol._app_transport  # type: ignore[no-any-return]

    def _start_serving(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        sock: socket.socket,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        ssl_handshake_timeout: float | None = constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout: float | None = None,
    ) -> None:
        self._add_reader(
            sock.fileno(),
            self._accept_connection,
            protocol_factory,
            sock,
            sslcontext,
            server,
            backlog,
            ssl_handshake_timeout,
            ssl_shutdown_timeout,
        )

    def _accept_connection(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        sock: socket.socket,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        ssl_handshake_timeout: float | None = constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout: float | None = None,
    ) -> None:
        # Called once per iteration in which the socket is readable: up to
        # `backlog` connections may be waiting.
        for _ in range(backlog):
            try:
                conn, addr = sock.accept()
                if self._debug:
                    logger.debug("%r got a new connection from %r: %r", server, addr, conn)
                conn.setblocking(False)
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors or memory: stop watching (the
                    # socket stays readable) and try again a little later.
                    self.call_exception_handler(
                        {
                            "message": "socket.accept() out of system resource",
                            "exception": exc,
                            "socket": trsock.TransportSocket(sock),
                        }
                    )
                    self._remove_reader(sock.fileno())
                    self.call_later(
                        constants.ACCEPT_RETRY_DELAY,
                        self._start_serving,
                        protocol_factory,
                        sock,
                        sslcontext,
                        server,
                        backlog,
                        ssl_handshake_timeout,
                        ssl_shutdown_timeout,
                    )
                    return
                raise  # the loop's exception handler reports it
            else:
                self.create_task(
                    self._accept_connection2(
                        protocol_factory,
                        conn,
                        {"peername": addr},
                        sslcontext,
                        server,
                        ssl_handshake_timeout,
                        ssl_shutdown_timeout,
                    )
                )

    async def _accept_connection2(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        conn: socket.socket,
        extra: dict[str, Any],
        sslcontext: Any = None,
        server: Any = None,
        ssl_handshake_timeout: float | None = constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout: float | None = None,
    ) -> None:
        protocol = None
        transport: asyncio.BaseTransport | None = None
        try:
            protocol = protocol_factory()
            waiter = self.create_future()
            if sslcontext:
                kwargs: dict[str, Any] = {"ssl_handshake_timeout": ssl_handshake_timeout}
                if ssl_shutdown_timeout is not None:
                    kwargs["ssl_shutdown_timeout"] = ssl_shutdown_timeout
                transport = self._make_ssl_transport(
                    conn,
                    protocol,
                    sslcontext,
                    waiter=waiter,
                    server_side=True,
                    extra=extra,
                    server=server,
                    **kwargs,
                )
            else:
                transport = self._make_socket_transport(
                    conn, protocol, waiter=waiter, extra=extra, server=server
                )
            try:
                await waiter
            except BaseException:
                transport.close()
                raise
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:  # noqa: BLE001 (any failure of one connection is only logged)
            if self._debug:
                context: dict[str, Any] = {
                    "message": "Error on transport creation for incoming connection",
                    "exception": exc,
                }
                if protocol is not None:
                    context["protocol"] = protocol
                if transport is not None:
                    context["transport"] = transport
                self.call_exception_handler(context)

    def _stop_serving(self, sock: socket.socket) -> None:
        self._remove_reader(sock.fileno())
        if sock.family == socket.AF_UNIX:
            self._cleanup_unix_socket(sock)
        sock.close()
