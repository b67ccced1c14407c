"""The built-in open-loop generator against servers with a known delay and a known stall."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from runner.loadgen import LoadError, LoadSpec, run_load
from runner.processes import free_port
from smp.consistency import check_result

DELAY_S = 0.020
STALL_S = 0.500


class DelayServer:
    """HTTP/1.1 keep-alive server answering after DELAY_S; optionally one stall.

    The stall holds every response due in ``[stall_at, stall_at + STALL_S)``
    (counted from the first request) until the stall ends, like a GC pause.
    """

    def __init__(self, stall_at_s: float | None = None) -> None:
        self.port = free_port()
        self.stall_at_s = stall_at_s
        self.first_request: float | None = None
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _hold_until(self, now: float) -> float:
        if self.stall_at_s is None or self.first_request is None:
            return 0.0
        start = self.first_request + self.stall_at_s
        return start + STALL_S - now if start <= now < start + STALL_S else 0.0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                now = time.monotonic()
                if self.first_request is None:
                    self.first_request = now
                await asyncio.sleep(DELAY_S + self._hold_until(now))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self.ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())

    def __enter__(self) -> DelayServer:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@pytest.fixture
def delayed() -> Iterator[DelayServer]:
    with DelayServer() as server:
        yield server


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-processes"])
def test_it_holds_the_requested_rate_and_measures_the_servers_delay(
    delayed: DelayServer, processes: int
) -> None:
    rate = 200.0
    spec = LoadSpec(delayed.url, rate, 16, duration_s=3.0, warmup_s=0.5)
    result = run_load(spec, processes=processes)
    # Two processes share one schedule: every slot sent once, the warm-up's left out.
    assert result.request_count == 600 and result.error_count == 0
    assert result.histogram.get_total_count() == 600 and result.not_sent == 0
    assert abs(result.actual_qps - rate) / rate < 0.01, result.actual_qps
    latencies = result.latencies()
    assert latencies.p50 is not None and latencies.min is not None
    assert latencies.min >= DELAY_S * 1000
    assert DELAY_S * 1000 <= latencies.p50 <= DELAY_S * 1000 + 3.0
    smp = result.to_result()
    assert smp.requested_qps == rate and smp.status_codes == {"200": 600}
    assert check_result(smp) == []


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-processes"])
def test_a_stall_shows_up_in_the_tail_because_latency_counts_from_the_intended_send_time(
    processes: int,
) -> None:
    with DelayServer(stall_at_s=1.0) as stalling:
        result = run_load(LoadSpec(stalling.url, 200.0, 16, duration_s=3.0), processes=processes)
    latencies = result.latencies()
    assert latencies.p50 is not None and latencies.p99 is not None and latencies.max is not None
    # A closed-loop client would see the stall once per connection (16 of 600 requests,
    # below the 1% tail); measured from the intended send time, every request that
    # should have gone out during the stall waits, so p99 lands near the stall.
    assert latencies.p99 >= 0.9 * STALL_S * 1000
    assert latencies.max >= STALL_S * 1000
    assert latencies.p50 < 2 * DELAY_S * 1000
    assert result.error_count == 0 and result.request_count == 600


def test_more_processes_than_connections_is_refused() -> None:
    with pytest.raises(ValueError, match="at least as many connections"):
        run_load(LoadSpec("http://127.0.0.1:9/", 10.0, 2, duration_s=0.2), processes=3)


def test_an_unreachable_target_is_a_load_error() -> None:
    with pytest.raises(LoadError, match="cannot connect"):
        run_load(LoadSpec(f"http://127.0.0.1:{free_port()}/", 10.0, 2, duration_s=0.2))


def test_a_spec_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        LoadSpec("http://127.0.0.1/", 0, 1, 1.0)
    with pytest.raises(ValueError, match="connections"):
        LoadSpec("http://127.0.0.1/", 1, 0, 1.0)
