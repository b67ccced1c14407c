"""The built-in generator's HTTP/1.1 parser (runner.loadgen) against a real local server
that frames its responses in every way the parser handles: chunked, split across reads,
Connection: close, a body ended by the close, a malformed head, and no answer at all."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import pytest

from runner.loadgen import LoadResult, LoadSpec, generate, run_load
from runner.processes import free_port

PAUSE_S = 0.020
"""How long the server waits in the middle of a response where a test asks it to."""
RATE = 100.0
SECONDS = 1.0
REQUESTS = 100

Respond = Callable[[asyncio.StreamWriter], Awaitable[bool]]
"""Writes one response; whether the connection stays open."""


class ScriptedServer:
    """A real TCP server on 127.0.0.1, in a thread, answering every request with
    ``respond``; it counts the connections it accepted and the requests it read."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.port = free_port()
        self.connections = 0
        self.requests = 0
        self.handlers: set[asyncio.Task[None]] = set()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                if not await self.respond(writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:  # the server stops: not an error of the handler
            pass
        finally:
            writer.close()
            self.handlers.discard(task)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self.ready.set()
        self.loop.run_forever()
        server.close()
        for handler in list(self.handlers):  # those still waiting for a request or to answer
            handler.cancel()
        self.loop.run_until_complete(asyncio.gather(*self.handlers, return_exceptions=True))
        self.loop.run_until_complete(server.wait_closed())

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        assert self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def load(server: ScriptedServer, connections: int = 4, timeout_s: float = 10.0) -> LoadResult:
    spec = LoadSpec(server.url, RATE, connections, duration_s=SECONDS, request_timeout_s=timeout_s)
    return run_load(spec)


def min_ms(result: LoadResult) -> float:
    latency = result.latencies().min
    assert latency is not None
    return latency


async def chunked(writer: asyncio.StreamWriter) -> bool:
    # Chunk extensions, a pause between chunks, the last chunk and a trailer field.
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n")
    await writer.drain()
    await asyncio.sleep(PAUSE_S)
    writer.write(b"6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n")
    return True


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["run_load", "asyncio"])
def test_chunked_responses_are_read_to_their_last_chunk_on_one_connection_each(
    loop: str,
) -> None:
    with ScriptedServer(chunked) as server:
        spec = LoadSpec(server.url, RATE, 4, duration_s=SECONDS)
        # run_load picks uvloop; generate also runs on asyncio's own loop.
        result = run_load(spec) if loop == "run_load" else asyncio.run(generate(spec))
        assert result.status_codes == {"200": REQUESTS} and result.error_count == 0
        # Complete at the last chunk, not at the head: every latency holds the pause.
        assert min_ms(result) >= PAUSE_S * 1000
        # Keep-alive: the trailer was consumed, so no response was misread and no
        # connection was replaced.
        assert server.connections == 4 and server.requests == REQUESTS


async def split_everywhere(writer: asyncio.StreamWriter) -> bool:
    # The head's blank line and the body each cut in two, with pauses between the reads.
    writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r")
    await writer.drain()
    await asyncio.sleep(PAUSE_S / 2)
    writer.write(b"\n01234")
    await writer.drain()
    await asyncio.sleep(PAUSE_S / 2)
    writer.write(b"56789")
    return True


@pytest.mark.slow
def test_a_response_split_across_reads_completes_with_its_last_byte() -> None:
    with ScriptedServer(split_everywhere) as server:
        result = load(server)
        assert result.status_codes == {"201": REQUESTS} and result.error_count == 0
        assert min_ms(result) >= PAUSE_S * 1000
        assert server.connections == 4


async def close_after_each(writer: asyncio.StreamWriter) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    return False


@pytest.mark.slow
def test_connection_close_is_honoured_and_the_next_request_goes_on_a_new_connection() -> None:
    with ScriptedServer(close_after_each) as server:
        result = load(server)
        assert result.status_codes == {"200": REQUESTS} and result.error_count == 0
        # One connection per request, none failed: each was opened only after the close.
        assert server.connections == REQUESTS and server.requests == REQUESTS


async def body_until_close(writer: asyncio.StreamWriter) -> bool:
    # HTTP/1.0 without Content-Length: the body ends when the server closes.
    writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome ")
    await writer.drain()
    await asyncio.sleep(PAUSE_S)
    writer.write(b"more")
    return False


@pytest.mark.slow
def test_a_body_without_length_ends_at_the_close() -> None:
    with ScriptedServer(body_until_close) as server:
        result = load(server)
        assert result.status_codes == {"200": REQUESTS} and result.error_count == 0
        assert min_ms(result) >= PAUSE_S * 1000
        assert server.connections == REQUESTS


async def error_status(writer: asyncio.StreamWriter) -> bool:
    writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy")
    return True


@pytest.mark.slow
def test_error_statuses_are_responses_counted_as_errors() -> None:
    with ScriptedServer(error_status) as server:
        result = load(server)
        assert result.status_codes == {"503": REQUESTS} and result.error_count == REQUESTS
        assert result.histogram.get_total_count() == REQUESTS
        assert server.connections == 4


async def garbage(writer: asyncio.StreamWriter) -> bool:
    writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
    return True


@pytest.mark.slow
def test_a_malformed_response_is_a_transport_error_and_the_connection_is_replaced() -> None:
    with ScriptedServer(garbage) as server:
        result = load(server)
        assert result.status_codes == {"-1": REQUESTS} and result.error_count == REQUESTS
        assert result.histogram.get_total_count() == 0
        assert server.connections == REQUESTS


async def never(writer: asyncio.StreamWriter) -> bool:
    await asyncio.sleep(3600)
    return True


@pytest.mark.slow
def test_requests_without_an_answer_time_out_as_transport_errors() -> None:
    with ScriptedServer(never) as server:
        result = load(server, connections=REQUESTS // 2, timeout_s=0.3)
        # Every slot sent, each timed out (no slot left unsent, the run ended).
        assert result.status_codes == {"-1": REQUESTS} and result.not_sent == 0
        assert server.requests == REQUESTS
