"""A small fault-injecting TCP proxy for tests (toxiproxy is not installable here).

Runs an asyncio loop in a background thread, listens on 127.0.0.1 and forwards to a loopback
upstream. The mode is switched at run time and applies to connections accepted after the switch
(call :meth:`FaultProxy.drop_connections` to make pooled clients reconnect):

* ``pass``       forward bytes both ways
* ``latency``    forward, delaying every chunk by ``latency`` seconds
* ``reset``      close each new connection at once with a TCP reset (``count`` times, or always)
* ``blackhole``  accept and read, never answer
* ``http``       answer each new connection's first HTTP request with ``status`` (503, or 400 +
                 a Route 53 ``Throttling`` body via :meth:`throttle`) and close it; after
                 ``count`` such answers it goes back to ``pass``

Bounded: at most ``max_connections`` at once (more are reset), loopback only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
import threading
from dataclasses import dataclass

THROTTLE_BODY = (b'<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
                 b"<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
                 b"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>")
REASONS = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Mode:
    name: str = "pass"
    latency: float = 0.0
    status: int = 503
    body: bytes = b"injected fault"
    content_type: str = "text/plain"
    count: int | None = None  # http/reset modes: how many faults before going back to pass


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1", max_connections: int = 64) -> None:
        if not ipaddress.ip_address(upstream_host).is_loopback:
            raise ValueError("FaultProxy forwards to loopback only")
        self.upstream = (upstream_host, upstream_port)
        self.max_connections = max_connections
        self.port = 0
        self.mode = Mode()
        self.injected = 0  # faults injected so far (http answers, resets)
        self.accepted = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faultproxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # ----- control (any thread) -----------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        fut.result(5)
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_mode(self, name: str, **kw: object) -> None:
        if name not in ("pass", "latency", "reset", "blackhole", "http"):
            raise ValueError(f"unknown mode {name}")
        with self._lock:
            self.mode = Mode(name, **kw)  # type: ignore[arg-type]

    def throttle(self, count: int) -> None:
        """Route 53 style throttling: HTTP 400 with error code Throttling, ``count`` times."""
        self.set_mode("http", status=400, body=THROTTLE_BODY, content_type="text/xml", count=count)

    def http_errors(self, count: int, status: int = 503) -> None:
        self.set_mode("http", status=status, count=count)

    def drop_connections(self) -> None:
        asyncio.run_coroutine_threadsafe(self._drop(), self._loop).result(5)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # ----- loop side ----------------------------------------------------------------------------
    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._drop()

    async def _drop(self) -> None:
        for w in list(self._writers):
            _abort(w)
        self._writers.clear()

    def _take_mode(self) -> Mode:
        with self._lock:
            mode = self.mode
            if mode.name in ("http", "reset") and mode.count is not None:
                mode.count -= 1
                if mode.count <= 0:
                    self.mode = Mode()
            return mode

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if len(self._writers) >= self.max_connections:
            _abort(writer)
            return
        self._writers.add(writer)
        mode = self._take_mode()
        try:
            if mode.name == "reset":
                self.injected += 1
                _abort(writer)
            elif mode.name == "blackhole":
                while await reader.read(65536):
                    pass
            elif mode.name == "http":
                await self._http_answer(reader, writer, mode)
            else:
                await self._forward(reader, writer, mode.latency if mode.name == "latency" else 0.0)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def _http_answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mode: Mode) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1].strip() or 0)
        if length:
            await reader.readexactly(length)
        self.injected += 1
        reason = REASONS.get(mode.status, "Error")
        writer.write(f"HTTP/1.1 {mode.status} {reason}\r\nContent-Type: {mode.content_type}\r\n"
                     f"Content-Length: {len(mode.body)}\r\nConnection: close\r\n\r\n".encode() + mode.body)
        await writer.drain()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _abort(writer)
            return
        self._writers.add(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if latency:
                        await asyncio.sleep(latency)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                if not dst.is_closing():
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(up_writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), not a graceful FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()
