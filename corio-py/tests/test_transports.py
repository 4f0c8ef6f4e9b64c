"""corio's transports, servers, streams, SSL, sendfile, datagrams and
subprocesses, on real loopback sockets, pipes and child processes."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import corio
import pytest
from test.test_asyncio import utils as test_utils


@pytest.fixture
def loop():
    lp = corio.new_event_loop()
    yield lp
    lp.close()


def run(loop: asyncio.AbstractEventLoop, coro: Any, timeout: float = 60) -> Any:
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class Echo(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> None:
        self.transport.close()


class Collect(asyncio.Protocol):
    """Keeps what it receives; `done` resolves at connection_lost."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.data = bytearray()
        self.done = loop.create_future()
        self.events: list[str] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> None:
        self.events.append("eof")  # returning None: the transport closes

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append("lost")
        if not self.done.done():
            self.done.set_result(exc)


def test_the_transport_is_an_asyncio_transport_with_its_extra_info(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, proto = await loop.create_connection(lambda: Collect(loop), "127.0.0.1", port)
        assert isinstance(tr, asyncio.Transport)
        assert tr.get_extra_info("peername") == ("127.0.0.1", port)
        assert tr.get_extra_info("sockname")[0] == "127.0.0.1"
        sock = tr.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert tr.get_extra_info("nothing", 42) == 42
        assert tr.get_protocol() is proto and tr.can_write_eof() and tr.is_reading()
        tr.close()
        assert tr.is_closing()
        assert await proto.done is None
        assert proto.events == ["made", "lost"]
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_ten_mib_echo_through_protocols_loses_no_byte(loop):
    payload = os.urandom(10 * 1024 * 1024)

    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, proto = await loop.create_connection(lambda: Collect(loop), "127.0.0.1", port)
        view = memoryview(payload)
        for i in range(0, len(payload), 100_000):
            tr.write(view[i : i + 100_000])
        tr.write_eof()
        await proto.done
        assert bytes(proto.data) == payload
        assert proto.events[:1] == ["made"] and proto.events[-2:] == ["eof", "lost"]
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_writelines_sends_every_buffer_in_order(loop):
    parts = [os.urandom(n) for n in (1, 100, 65536, 3 * 1024 * 1024, 7)]

    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, proto = await loop.create_connection(lambda: Collect(loop), "127.0.0.1", port)
        with pytest.raises(TypeError):
            tr.writelines([b"ok", "not bytes"])
        tr.writelines(
            [parts[0], bytearray(parts[1]), memoryview(parts[2]), parts[3], b"", parts[4]]
        )
        tr.writelines([b"tail-", memoryview(b"xx-tail")[2:]])
        tr.write_eof()
        await proto.done
        assert bytes(proto.data) == b"".join(parts) + b"tail--tail"
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_flow_control_pauses_and_resumes_the_writer(loop):
    async def main():
        accepted: asyncio.Future[Any] = loop.create_future()

        class Slow(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                transport.pause_reading()
                accepted.set_result(transport)

            def data_received(self, data: bytes) -> None:
                got.extend(data)

        got = bytearray()
        server = await loop.create_server(Slow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, proto = await loop.create_connection(lambda: Collect(loop), "127.0.0.1", port)
        tr.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
        assert tr.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
        with pytest.raises(ValueError):
            tr.set_write_buffer_limits(high=1, low=2)
        server_tr = await accepted
        chunk = b"x" * 65536
        sent = 0
        while "pause" not in proto.events:
            tr.write(chunk)
            sent += len(chunk)
            await asyncio.sleep(0)
        assert tr.get_write_buffer_size() > 64 * 1024
        server_tr.resume_reading()
        while "resume" not in proto.events:
            await asyncio.sleep(0.01)
        while len(got) < sent:
            await asyncio.sleep(0.01)
        assert bytes(got) == b"x" * sent and tr.get_write_buffer_size() == 0
        tr.close()
        await proto.done
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_buffered_protocol_reads_into_its_own_buffer(loop):
    async def main():
        class Buffered(asyncio.BufferedProtocol):
            def __init__(self) -> None:
                self.buf = bytearray(1000)
                self.got = bytearray()
                self.done = loop.create_future()

            def get_buffer(self, sizehint: int) -> bytearray:
                return self.buf

            def buffer_updated(self, nbytes: int) -> None:
                self.got += self.buf[:nbytes]

            def eof_received(self) -> None:
                self.done.set_result(bytes(self.got))

        proto = Buffered()
        server = await loop.create_server(lambda: proto, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"abc" * 10_000)
        writer.write_eof()
        assert await proto.done == b"abc" * 10_000
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_abort_drops_unsent_data_and_misuse_gets_asyncios_errors(loop):
    async def main():
        server = await loop.create_server(lambda: Collect(loop), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, proto = await loop.create_connection(lambda: Collect(loop), "127.0.0.1", port)
        tr.abort()
        assert await proto.done is None
        tr.write(b"dropped")  # after the connection is lost: ignored, as asyncio does
        tr2, proto2 = await loop.create_connection(lambda: Collect(loop), "127.0.0.1", port)
        with pytest.raises(TypeError):
            tr2.write("text")
        tr2.write_eof()
        with pytest.raises(RuntimeError, match="write_eof"):
            tr2.write(b"late")
        tr2.close()
        await proto2.done
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_streams_over_unix_sockets_and_the_socket_file_is_handled(loop, tmp_path):
    path = str(tmp_path / "s.sock")

    async def main():
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            line = await reader.readline()
            writer.write(line.upper())
            await writer.drain()
            writer.close()

        server = await asyncio.start_unix_server(handle, path)
        async with server:
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(b"hello\n")
            assert await reader.readline() == b"HELLO\n"
            assert await reader.read() == b""
            writer.close()
            await writer.wait_closed()
        if sys.version_info >= (3, 13):
            assert not os.path.exists(path)  # cleanup_socket

    run(loop, main())


def test_udp_echo_and_errors(loop):
    async def main():
        class UdpEcho(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                self.transport.sendto(data.upper(), addr)

        class Client(asyncio.DatagramProtocol):
            def __init__(self) -> None:
                self.got: asyncio.Queue[bytes] = asyncio.Queue()

            def datagram_received(self, data: bytes, addr: Any) -> None:
                self.got.put_nowait(data)

        server_tr, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=("127.0.0.1", 0))
        addr = server_tr.get_extra_info("sockname")
        client_tr, client = await loop.create_datagram_endpoint(Client, remote_addr=addr)
        for i in range(100):
            client_tr.sendto(b"ping %d" % i)
            assert await client.got.get() == b"PING %d" % i
        client_tr.close()
        server_tr.close()

    run(loop, main())


def test_datagrams_on_every_family_with_asyncios_addresses_and_errors(loop, tmp_path):
    """IPv4, IPv6 and Unix datagram sockets: each datagram arrives whole,
    with its sender's address in the form Python's socket gives; misuse
    gets asyncio's errors; an unreachable peer reaches error_received."""

    class Recorder(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.got: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()
            self.errors: asyncio.Queue[Exception] = asyncio.Queue()
            self.lost = loop.create_future()

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.got.put_nowait((data, addr))

        def error_received(self, exc: Exception) -> None:
            self.errors.put_nowait(exc)

        def connection_lost(self, exc: BaseException | None) -> None:
            self.lost.set_result(exc)

    async def main():
        # IPv4 and IPv6: the sender's address is what socket.recvfrom gives.
        for host in ("127.0.0.1", "::1"):
            server_tr, server = await loop.create_datagram_endpoint(Recorder, local_addr=(host, 0))
            client_tr, client = await loop.create_datagram_endpoint(Recorder, local_addr=(host, 0))
            to = server_tr.get_extra_info("sockname")
            for size in (1, 1000, 60000):
                client_tr.sendto(b"x" * size, to)
                data, addr = await server.got.get()
                assert data == b"x" * size and addr == client_tr.get_extra_info("sockname")
            if host == "127.0.0.1":
                client_tr.sendto(bytearray(b"by name"), ("localhost", to[1]))  # resolved by Python
                assert (await server.got.get())[0] == b"by name"
            with pytest.raises(TypeError, match="bytes-like"):
                client_tr.sendto("text", to)
            server_tr.close()
            client_tr.close()
            assert await server.lost is None and await client.lost is None
        # A connected endpoint: its peer is the only address; a closed peer
        # port shows up as ConnectionRefusedError in error_received.
        gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        gone.bind(("127.0.0.1", 0))
        gone_addr = gone.getsockname()
        gone.close()
        tr, proto = await loop.create_datagram_endpoint(Recorder, remote_addr=gone_addr)
        with pytest.raises(ValueError, match="Invalid address"):
            tr.sendto(b"x", ("127.0.0.1", 9))
        tr.sendto(b"anyone?")
        assert isinstance(await proto.errors.get(), ConnectionRefusedError)
        tr.abort()
        assert await proto.lost is None
        tr.sendto(b"after close")  # dropped and counted, as asyncio
        # Unix datagram sockets: paths as str, abstract names as bytes,
        # unnamed senders as None (what socket.recvfrom gives).
        path = str(tmp_path / "dgram.sock")
        server_tr, server = await loop.create_datagram_endpoint(
            Recorder, local_addr=path, family=socket.AF_UNIX
        )
        client_tr, _ = await loop.create_datagram_endpoint(
            Recorder, remote_addr=path, family=socket.AF_UNIX
        )
        client_tr.sendto(b"unix")
        assert await server.got.get() == (b"unix", None)
        abstract = b"\0corio-test-%d" % os.getpid()
        named = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        named.bind(abstract)
        named_tr, _ = await loop.create_datagram_endpoint(Recorder, sock=named)
        named_tr.sendto(b"abstract", path)
        assert await server.got.get() == (b"abstract", abstract)
        for tr in (server_tr, client_tr, named_tr):
            tr.close()
        await server.lost

    run(loop, main())


def test_subprocess_pipes_exit_code_and_no_zombie(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; data = sys.stdin.read(); sys.stdout.write(data[::-1]); sys.exit(3)",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        out, _ = await proc.communicate(b"corio")
        assert out == b"oiroc" and proc.returncode == 3
        with pytest.raises(ChildProcessError):
            os.waitpid(proc.pid, os.WNOHANG)  # noqa: ASYNC222 (WNOHANG: it does not block; reaped by the loop already)
        shell = await asyncio.create_subprocess_shell(
            "exit 7", stdout=subprocess.DEVNULL, start_new_session=True
        )
        assert await shell.wait() == 7
        sleeper = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import time; time.sleep(60)"
        )
        sleeper.kill()
        assert await sleeper.wait() == -9

    run(loop, main())


def test_pipes_carry_every_byte_with_flow_control_and_close_as_asyncio(loop):
    """A write pipe fills, pauses its protocol, drains into a read pipe on
    the same loop and resumes; the read pipe sees every byte, then EOF,
    then connection_lost(None), in that order."""

    async def main():
        rfd, wfd = os.pipe()
        reader = Collect(loop)
        writer = Collect(loop)
        rtr, _ = await loop.connect_read_pipe(lambda: reader, os.fdopen(rfd, "rb", 0))
        wtr, _ = await loop.connect_write_pipe(lambda: writer, os.fdopen(wfd, "wb", 0))
        assert isinstance(rtr, asyncio.ReadTransport) and isinstance(wtr, asyncio.WriteTransport)
        assert rtr.get_extra_info("pipe").fileno() == rfd and wtr.can_write_eof()
        payload = os.urandom(4 * 1024 * 1024 + 3)
        rtr.pause_reading()
        assert not rtr.is_reading()
        wtr.write(payload[:1000])
        wtr.writelines([payload[1000:5000], bytearray(payload[5000:])])
        # The kernel's pipe buffer is 64 KiB: the rest waits in ours.
        assert wtr.get_write_buffer_size() > 64 * 1024 and writer.events == ["made", "pause"]
        assert "polling" in repr(wtr) and "bufsize=" in repr(wtr)
        rtr.resume_reading()
        wtr.write_eof()
        assert wtr.is_closing()
        wtr.write(b"dropped")  # a closing pipe takes nothing, as asyncio's
        assert await writer.done is None and await reader.done is None
        assert writer.events == ["made", "pause", "resume", "lost"]
        assert reader.events == ["made", "eof", "lost"]
        assert bytes(reader.data) == payload
        assert "closed" in repr(rtr) and "closed" in repr(wtr)

    run(loop, main())


def test_a_write_pipe_whose_reader_goes_away_is_closed(loop):
    async def main():
        for pending in (False, True):
            rfd, wfd = os.pipe()
            writer = Collect(loop)
            wtr, _ = await loop.connect_write_pipe(lambda w=writer: w, os.fdopen(wfd, "wb", 0))
            await asyncio.sleep(0)
            if pending:
                wtr.write(b"x" * (1024 * 1024))  # more than the pipe holds
                assert wtr.get_write_buffer_size() > 0
            os.close(rfd)
            exc = await writer.done
            # Data still to go: BrokenPipeError; nothing: a clean close.
            assert isinstance(exc, BrokenPipeError) if pending else exc is None
            assert wtr.is_closing()
        with pytest.raises(ValueError, match="pipes"), tempfile.TemporaryFile() as f:
            await loop.connect_read_pipe(asyncio.Protocol, f)

    run(loop, main())


def test_sendfile_uses_the_kernel_and_falls_back_when_it_cannot(loop):
    data = os.urandom(3 * 1024 * 1024 + 17)

    async def main():
        with tempfile.TemporaryFile() as f:
            f.write(data)
            f.flush()
            server = await loop.create_server(lambda: Collect(loop), "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            proto_box: list[Collect] = []

            def factory() -> Collect:
                proto_box.append(Collect(loop))
                return proto_box[-1]

            server2 = await loop.create_server(factory, "127.0.0.1", 0)
            port2 = server2.sockets[0].getsockname()[1]
            tr, _ = await loop.create_connection(lambda: Collect(loop), "127.0.0.1", port2)
            f.seek(0)
            sent = await loop.sendfile(tr, f, offset=5, count=len(data) - 10)
            assert sent == len(data) - 10 and f.tell() == len(data) - 5
            tr.write(b"!")  # writes work again once sendfile is done
            tr.write_eof()
            while "eof" not in proto_box[0].events:
                await asyncio.sleep(0.01)
            assert bytes(proto_box[0].data) == data[5:-5] + b"!"
            tr.close()
            # sock_sendfile on a plain socket.
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setblocking(False)
            f.seek(0)
            assert await loop.sock_sendfile(sock, f) == len(data)
            sock.close()
            # An in-memory file cannot go through the kernel: the fallback.
            import io

            tr3, _ = await loop.create_connection(lambda: Collect(loop), "127.0.0.1", port)
            assert await loop.sendfile(tr3, io.BytesIO(b"abc")) == 3
            with pytest.raises(asyncio.SendfileNotAvailableError):
                await loop.sendfile(tr3, io.BytesIO(b"abc"), fallback=False)
            tr3.close()
            for s in (server, server2):
                s.close()
                await s.wait_closed()

    run(loop, main())


def test_tls_echo_and_start_tls(loop):
    server_ctx = test_utils.simple_server_sslcontext()
    client_ctx = test_utils.simple_client_sslcontext()

    async def main():
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
        assert writer.get_extra_info("cipher") is not None
        assert writer.get_extra_info("sslcontext") is client_ctx
        payload = os.urandom(1024 * 1024)
        writer.write(payload)
        await writer.drain()
        assert await reader.readexactly(len(payload)) == payload
        writer.close()
        await writer.wait_closed()
        # start_tls: a plain connection upgraded in place.
        plain = await asyncio.start_server(handle, "127.0.0.1", 0)
        port2 = plain.sockets[0].getsockname()[1]
        tr, proto = await loop.create_connection(lambda: Collect(loop), "127.0.0.1", port2)
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            await loop.start_tls(tr, proto, client_ctx, ssl_handshake_timeout=5)
        for s in (server, plain):
            s.close()
            await s.wait_closed()

    run(loop, main())


def test_tls_clients_that_never_handshake_are_dropped_at_the_timeout(loop):
    server_ctx = test_utils.simple_server_sslcontext()

    async def main():
        server = await loop.create_server(
            asyncio.Protocol, "127.0.0.1", 0, ssl=server_ctx, ssl_handshake_timeout=0.5
        )
        port = server.sockets[0].getsockname()[1]
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
        for s in silent:
            s.setblocking(False)
        started = time.monotonic()
        open_ = list(silent)
        while open_ and time.monotonic() - started < 20:
            await asyncio.sleep(0.05)
            still = []
            for s in open_:
                try:
                    if s.recv(1) == b"":
                        continue  # closed by the server
                except BlockingIOError:
                    still.append(s)
                    continue
                except ConnectionResetError:
                    continue
            open_ = still
        assert not open_, f"{len(open_)} silent clients still connected"
        assert time.monotonic() - started >= 0.4
        for s in silent:
            s.close()
        server.close()
        await server.wait_closed()

    run(loop, main())


CLIENTS = textwrap.dedent(
    """
    import asyncio, os, resource, sys
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port, n = int(sys.argv[1]), int(sys.argv[2])

    async def main():
        sem = asyncio.Semaphore(500)  # connects in flight at once
        conns = []

        async def connect(i):
            async with sem:
                conns.append(await asyncio.open_connection("127.0.0.1", port))

        await asyncio.gather(*(connect(i) for i in range(n)))
        # All n are open at once here; now every one echoes its own bytes.
        async def echo(i, reader, writer):
            msg = (b"%08d" % i) * 32
            writer.write(msg)
            await writer.drain()
            assert await reader.readexactly(len(msg)) == msg
            writer.close()
            await writer.wait_closed()

        await asyncio.gather(*(echo(i, r, w) for i, (r, w) in enumerate(conns)))
        print("verified", len(conns), flush=True)

    asyncio.run(main())
    """
)


def test_ten_thousand_concurrent_connections_every_byte_verified(loop):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 12_000:
        pytest.skip(f"the descriptor limit ({hard}) is below 12,000")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = 10_000

    async def main():
        open_now = 0
        most = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal open_now, most
            open_now += 1
            most = max(most, open_now)
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            finally:
                open_now -= 1
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        port = server.sockets[0].getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENTS, str(port), str(n), stdout=subprocess.PIPE
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0 and out.strip() == b"verified %d" % n
        assert most == n
        server.close()
        await server.wait_closed()

    try:
        run(loop, main(), timeout=240)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_no_descriptor_is_left_open(loop):
    import gc

    def workload() -> None:
        test_ten_mib_echo_through_protocols_loses_no_byte(loop)
        test_udp_echo_and_errors(loop)
        test_subprocess_pipes_exit_code_and_no_zombie(loop)
        test_streams_over_unix_sockets_and_the_socket_file_is_handled(
            loop, Path(tempfile.mkdtemp())
        )
        gc.collect()

    workload()  # warm-up: lazily opened descriptors stay
    fds = sorted(os.listdir("/proc/self/fd"))
    workload()
    assert sorted(os.listdir("/proc/self/fd")) == fds
