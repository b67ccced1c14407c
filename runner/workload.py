"""The application server of local mode: HTTP/1.1 keep-alive, a fixed response.

It stands in for the application pod. Every request (any method, any path)
gets ``200 OK`` with a body of exactly the profile's ``payload_bytes`` (or of
``size`` bytes when the request asks ``?size=N``, up to MAX_SIZE: real-world mode
draws its response sizes), optionally after a fixed delay (``--delay-ms``, to
simulate application work). A request with ``Connection: close`` is answered
with the same header and its connection closed (the churn profiles).
``--capacity-rps R`` makes it a server with a known limit: one request at a
time, each taking ``1/R`` s, so below R requests per second latency stays near
``1/R`` and above it a queue grows without bound (the capacity search's test).
With ``--upstream PORT`` it is a link of a chain (``http-chain-1k``): each
request first calls the next service on 127.0.0.1:PORT (``GET /`` over kept-alive
connections) and is answered once that call is, ``502`` when it failed, so a
request through three services waits for all three.
Written on asyncio's low-level protocols (no streams, no framework) so that one
Python process serves tens of thousands of small requests per second and its
own CPU stays a small, measurable share of the machine.

Run as ``python -m runner.workload --port 0 --payload-bytes 1024``; it prints
``listening HOST:PORT`` on stdout once it accepts connections, and stops on
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

MAX_HEAD_BYTES = 64 * 1024
"""Request heads larger than this close the connection (431 would be polite; this is a bench)."""
MAX_SIZE = 1024 * 1024
"""The largest body a ``?size=N`` request gets."""


def build_response(payload_bytes: int, close: bool = False) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {payload_bytes}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
    ).encode("ascii")
    return head + b"x" * payload_bytes


class Responses:
    """Encoded responses by (size, close), built once each."""

    def __init__(self, payload_bytes: int) -> None:
        self.default = payload_bytes
        self.built: dict[tuple[int, bool], bytes] = {}

    def get(self, head: bytes, close: bool) -> bytes:
        size = _requested_size(head)
        key = (self.default if size is None else size, close)
        found = self.built.get(key)
        if found is None:
            found = self.built[key] = build_response(*key)
        return found


def _requested_size(head: bytes) -> int | None:
    """``N`` of a ``size=N`` query on the request line, bounded by MAX_SIZE."""
    line_end = head.find(b"\r\n")
    line = head[: line_end if line_end >= 0 else None]
    at = line.find(b"size=")
    if at < 0 or line[at - 1 : at] not in (b"?", b"&"):
        return None
    digits = line[at + 5 :].split(b"&", 1)[0].split(b" ", 1)[0]
    return min(int(digits), MAX_SIZE) if digits.isdigit() else None


class Queue:
    """A server with a known limit: one request served at a time, ``1 / rate`` s each."""

    def __init__(self, rate: float) -> None:
        self.service_s = 1.0 / rate
        self.free_at = 0.0

    def done_at(self, now: float) -> float:
        self.free_at = max(now, self.free_at) + self.service_s
        return self.free_at


FAILED_UPSTREAM = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Upstream:
    """The next service of a chain: ``GET /`` over a pool of kept-alive connections, one
    call per connection at a time (a new connection when every pooled one is busy)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.request = b"GET / HTTP/1.1\r\nHost: upstream\r\n\r\n"

    async def call(self) -> bool:
        """Whether the next service answered 2xx (its body read to the end)."""
        try:
            if self.idle:
                reader, writer = self.idle.pop()
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(self.request)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            length = _content_length(head)
            if length:
                await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return False
        if b"\r\nconnection: close" in head:
            writer.close()
        else:
            self.idle.append((reader, writer))
        return head.startswith((b"http/1.1 2", b"http/1.0 2"))


class HttpProtocol(asyncio.Protocol):
    """One connection: parse request heads (and bodies by Content-Length), answer in order."""

    def __init__(
        self,
        responses: Responses,
        delay_s: float,
        upstream: Upstream | None = None,
        queue: Queue | None = None,
    ) -> None:
        self.responses = responses
        self.delay_s = delay_s
        self.upstream = upstream
        self.queue = queue
        self.last: asyncio.Future[None] | None = None
        """The answer being prepared for the previous request (chain mode): answers go out
        in the order the requests came, as HTTP/1.1 requires."""
        self.buffer = bytearray()
        self.body_left = 0
        self.transport: asyncio.Transport | None = None
        self.close_after: bool = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.body_left:
                taken = min(self.body_left, len(self.buffer))
                del self.buffer[:taken]
                self.body_left -= taken
                continue
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD_BYTES and self.transport is not None:
                    self.transport.close()
                return
            head = bytes(self.buffer[:end]).lower()
            del self.buffer[: end + 4]
            self.body_left = _content_length(head)
            close = b"\r\nconnection: close" in head
            response = self.responses.get(head, close)
            if self.upstream is not None:
                self.last = asyncio.ensure_future(self._forward(self.last, close, response))
            elif self.queue is not None:
                loop = asyncio.get_running_loop()
                loop.call_at(self.queue.done_at(loop.time()), self._respond, close, response)
            elif self.delay_s > 0:
                asyncio.get_running_loop().call_later(self.delay_s, self._respond, close, response)
            else:
                self._respond(close, response)

    async def _forward(
        self, previous: asyncio.Future[None] | None, close: bool, response: bytes
    ) -> None:
        assert self.upstream is not None
        ok = await self.upstream.call()
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        if previous is not None:
            await previous
        self._respond(close or not ok, response if ok else FAILED_UPSTREAM)

    def _respond(self, close: bool, response: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(response)
        if close:
            self.transport.close()


def _content_length(head: bytes) -> int:
    marker = b"\r\ncontent-length:"
    at = head.find(marker)
    if at < 0:
        return 0
    end = head.find(b"\r\n", at + len(marker))
    value = head[at + len(marker) : end if end >= 0 else None].strip()
    return int(value) if value.isdigit() else 0


async def serve(
    host: str,
    port: int,
    payload_bytes: int,
    delay_s: float,
    upstream_port: int | None = None,
    capacity_rps: float | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    responses = Responses(payload_bytes)
    # One pool per server: the chain's next hop is called over the same few connections.
    upstream = Upstream(upstream_port) if upstream_port else None
    # One queue per server: its limit holds across every connection.
    queue = Queue(capacity_rps) if capacity_rps else None
    server = await loop.create_server(
        lambda: HttpProtocol(responses, delay_s, upstream, queue),
        host,
        port,
        backlog=1024,
        reuse_address=True,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound = server.sockets[0].getsockname()
    print(f"listening {bound[0]}:{bound[1]}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="smp-runner's local application server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--payload-bytes", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument(
        "--upstream", type=int, metavar="PORT", help="call the next service on 127.0.0.1:PORT"
    )
    parser.add_argument(
        "--capacity-rps",
        type=float,
        metavar="R",
        help="serve one request at a time, 1/R s each: a known limit of R requests/s",
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(
                args.host,
                args.port,
                args.payload_bytes,
                args.delay_ms / 1000.0,
                args.upstream,
                args.capacity_rps,
            )
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
