"""Capacity search, connection churn and real-world mode in the runner, against real servers
on 127.0.0.1 (the local application server, a connection-counting server)."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runner import processes
from runner.capacity import SearchSettings, search
from runner.loadgen import LoadSpec, Plan, run_load
from runner.realworld import PATHS, SIZE_MAX, SIZE_MIN, draw
from smp.model import Latencies, PerformanceTestResult
from smp.profiles import get_profile

# The capacity search


def settings(**overrides: float) -> SearchSettings:
    values: dict[str, float] = {
        "objective_p99_ms": 10.0,
        "error_budget": 0.01,
        "start_rps": 500.0,
        "max_rps": 40_000.0,
        "tolerance": 0.05,
        "max_trials": 16,
    }
    values.update(overrides)
    return SearchSettings(**{**values, "max_trials": int(values["max_trials"])})  # type: ignore[arg-type]


def knee(limit: float) -> object:
    """A system whose p99 is 2 ms up to ``limit`` requests/s and 80 ms above it."""

    def measure(rate: float) -> PerformanceTestResult:
        return PerformanceTestResult(
            latencies_ms=Latencies(p99=2.0 if rate <= limit else 80.0),
            actual_qps=rate,
            requested_qps=rate,
            request_count=int(rate * 10),
            error_count=0,
            duration_s=10.0,
        )

    return measure


@pytest.mark.parametrize("limit", [730.0, 3_000.0, 12_345.0, 260.0])
def test_the_search_brackets_then_bisects_to_within_its_tolerance(limit: float) -> None:
    run = search(knee(limit), settings())  # type: ignore[arg-type]
    found = run.capacity
    assert found is not None and found.converged
    assert limit / 1.05 <= found.rps <= limit
    rates = [t.requested_qps for t in found.trials]
    assert rates[0] == 500
    # The lowest failing rate tried is within the tolerance above the capacity.
    failing = min(t.requested_qps for t in found.trials if not t.passed)
    assert failing <= found.rps * 1.05
    assert all(t.passed == (t.requested_qps <= limit) for t in found.trials)
    # The run returned is the trial at the capacity.
    assert run.requested_qps == found.rps


def test_a_pass_at_the_ceiling_is_a_lower_bound_not_converged() -> None:
    found = search(knee(1e9), settings(max_rps=4_000)).capacity  # type: ignore[arg-type]
    assert found is not None
    assert (found.rps, found.converged) == (4_000, False)
    assert [t.requested_qps for t in found.trials] == [500, 1_000, 2_000, 4_000]


def test_the_trial_limit_stops_a_search_that_has_not_converged() -> None:
    found = search(knee(3_000), settings(max_trials=4)).capacity  # type: ignore[arg-type]
    assert found is not None and len(found.trials) == 4 and not found.converged


def test_a_rate_the_system_does_not_deliver_fails_even_with_a_low_p99() -> None:
    def saturated(rate: float) -> PerformanceTestResult:
        delivered = min(rate, 1_800.0)
        return PerformanceTestResult(
            latencies_ms=Latencies(p99=1.0), actual_qps=delivered, requested_qps=rate,
            request_count=int(delivered * 10), error_count=0, duration_s=10.0,
        )  # fmt: skip

    found = search(saturated, settings()).capacity
    assert found is not None and found.converged
    assert 1_800 / 1.05 <= found.rps <= 1_800 / 0.95


@pytest.fixture
def queue_server(tmp_path: Path) -> Iterator[int]:
    """The local application server with a known limit: one request at a time, 1/1500 s each."""
    with processes.Cleanup() as cleanup:
        port = processes.free_port()
        argv = [sys.executable, "-m", "runner.workload", "--port", str(port)]
        app = processes.start_process(
            "app", [*argv, "--payload-bytes", "64", "--capacity-rps", "1500"], tmp_path
        )
        cleanup.add(app.stop)
        processes.wait_for_port(app, port)
        yield port


@pytest.mark.slow
def test_the_search_finds_the_known_limit_of_a_real_server(queue_server: int) -> None:
    """A server that answers slowly above 1,500 requests/s: the search, with real trials of
    the built-in generator, finds that limit within its 5% tolerance (and at most 10% below:
    the generator's own jitter queues a little at the limit)."""
    url = f"http://127.0.0.1:{queue_server}/"

    def trial(rate: float) -> PerformanceTestResult:
        return run_load(LoadSpec(url, rate, 16, duration_s=2.0, warmup_s=0.5)).to_result()

    found = search(trial, settings()).capacity
    assert found is not None and found.converged, found
    assert 1_500 * 0.90 <= found.rps <= 1_500 * 1.05, found


# Connection churn


class CountingServer:
    """HTTP/1.1 server on 127.0.0.1 that counts the connections that carried requests (the
    generator opens one per worker first to check the target; a churn run closes them)."""

    def __init__(self) -> None:
        self.port = processes.free_port()
        self.connections = 0
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                if not served:
                    served, self.connections = True, self.connections + 1
                close = b"connection: close" in head.lower()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    + (b"Connection: close\r\n" if close else b"")
                    + b"\r\nok"
                )
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
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

    def __enter__(self) -> CountingServer:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.mark.parametrize("keepalive", [True, False])
def test_without_keep_alive_every_request_opens_its_own_connection(keepalive: bool) -> None:
    with CountingServer() as server:
        spec = LoadSpec(f"http://127.0.0.1:{server.port}/", 100, 4, 1.0, keepalive=keepalive)
        result = run_load(spec)
    assert result.error_count == 0 and result.request_count == 100
    if keepalive:
        assert server.connections == 4  # one per worker, for the whole run
    else:
        assert server.connections == server.requests == 100


def test_the_churn_profile_says_what_it_measures() -> None:
    profile = get_profile("http-churn-100")
    assert profile is not None and profile.keepalive is False
    assert "new connection" in profile.description


# Real-world mode


def test_a_seed_draws_the_same_workload_and_another_seed_another() -> None:
    first, again, other = draw(7, 1000, 60, 5), draw(7, 1000, 60, 5), draw(8, 1000, 60, 5)
    assert first.plan == again.plan and first.sizes == again.sizes
    assert first.plan.times != other.plan.times and first.sizes != other.sizes
    plan = first.plan
    # Exactly the mean rate over each part, the warm-up first.
    assert plan.warm_slots == 5_000 and len(plan.times) == 65_000
    assert all(t < 5 for t in plan.times[:5_000]) and all(t >= 5 for t in plan.times[5_000:])
    assert list(plan.times) == sorted(plan.times)
    # Bursts: some second asks for well over the mean; paths and sizes as documented.
    assert first.peak_rate > 1_500
    assert len(set(plan.paths)) == PATHS
    assert all(SIZE_MIN <= s <= SIZE_MAX for s in first.sizes)
    top = max(set(plan.paths), key=plan.paths.count)
    assert top.startswith("/api/r0?size=")
    assert plan.paths.count(top) / len(plan.paths) == pytest.approx(first.path_shares[0], abs=0.01)


def test_the_application_answers_the_size_a_request_asks_for(tmp_path: Path) -> None:
    with processes.Cleanup() as cleanup:
        port = processes.free_port()
        argv = [sys.executable, "-m", "runner.workload", "--port", str(port)]
        app = processes.start_process("app", [*argv, "--payload-bytes", "100"], tmp_path)
        cleanup.add(app.stop)
        processes.wait_for_port(app, port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert len(client.get("/api/r3?size=5000").content) == 5000
            assert len(client.get("/x?a=1&size=17").content) == 17
            assert len(client.get("/plain").content) == 100
            assert len(client.get("/x?notsize=9").content) == 100


def test_the_generator_follows_a_plan_send_time_by_send_time() -> None:
    with CountingServer() as server:
        times = (0.0, 0.0, 0.3, 0.6, 0.61, 0.62)
        plan = Plan(times=times, paths=("/a",) * 6, warm_slots=2)
        result = run_load(LoadSpec(f"http://127.0.0.1:{server.port}/", 10, 2, 1.0, plan=plan))
    assert server.requests == 6 and result.request_count == 4  # two warm-up slots unrecorded
    # Recorded from the first measured send time (0.3 s) to the last completion (~0.62 s).
    assert 0.25 <= result.duration_s <= 0.6


def test_churn_proxies_open_an_upstream_connection_and_a_full_handshake_per_request() -> None:
    from runner.certs import Certificates
    from runner.proxies import Hop, render_haproxy, render_nginx

    certs = Certificates(*(Path(f"/certs/{n}") for n in Certificates.__dataclass_fields__))
    churn = Hop("proxy-client", 1, 2, tls_out=True, reuse=False)
    kept = Hop("proxy-client", 1, 2, tls_out=True)
    nginx, nginx_kept = (
        render_nginx(churn, Path("/w"), certs),
        render_nginx(kept, Path("/w"), certs),
    )
    assert "keepalive 128" in nginx_kept and "keepalive 128" not in nginx
    assert "proxy_ssl_session_reuse off" in nginx and "proxy_ssl_session_reuse on" in nginx_kept
    haproxy = render_haproxy(churn, Path("/w"), certs)
    assert "http-reuse never" in haproxy and "no-ssl-reuse" in haproxy
    assert "http-reuse always" in render_haproxy(kept, Path("/w"), certs)
