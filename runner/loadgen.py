"""The built-in load generator: open-loop, constant rate, coordinated omission corrected.

Method. A run of ``duration_s`` (after ``warmup_s``) at ``rate`` requests per
second is a fixed schedule: request ``i`` is *intended* to be sent at
``t0 + i / rate``. ``connections`` workers share the schedule: a free worker
takes the next unclaimed slot, waits for its intended time (if it is not
already past), sends the request on its keep-alive HTTP/1.1 connection and
reads the response. The latency recorded is ``response end - intended send
time``, not ``- actual send time``: when the server stalls and every worker is
busy, the requests that should have gone out meanwhile wait in the schedule,
and their wait counts. That is the correction for *coordinated omission*
(Gil Tene; wrk2 and fortio do the same): a closed-loop client that times from
the actual send would record one slow request per connection for a stall,
where users of an open system see the whole queue.

Latencies are recorded in microseconds in an HDR histogram (``hdrh``, 3
significant digits, 1 us to 1 h). Requests whose intended time falls in the
warm-up are sent but not recorded.

Throughput. ``actual_qps`` is ``(n - 1) / (last completion - first
completion)`` over the ``n`` recorded requests: the rate at which the system
under test delivered responses, independent of the latency offset at both ends
of a short run. If the generator or the server cannot keep up, completions
spread out and the figure drops below the requested rate. Slots still unsent
``MAX_LATE_S`` after the end of the schedule are abandoned and counted in
``not_sent``.

Implementation: raw asyncio streams, one connection per worker, requests
pre-encoded; the hot loop allocates little so that one Python process holds
thousands of requests per second with 1% accuracy.

Churn (``keepalive=False``, the ``http-churn-*`` profiles): every request is sent
on a new connection with ``Connection: close`` and the connection is closed after
its response, so the connect (and, through a TLS hop, the handshake) is inside
each latency, which still runs from the intended send time.

Real-world mode (``plan``, :mod:`runner.realworld`): the schedule is not
``i / rate`` but the plan's own send times (bursty arrivals), and each slot
requests the plan's path for it (paths of unequal popularity, each asking for
its own response size); recording and the correction are unchanged.

gRPC (``grpc://HOST:PORT``, the local ``grpc-1k``): the same schedule and
recording, each worker a grpcio channel of its own (one HTTP/2 connection, not
shared with the other workers) making unary calls of
:data:`runner.grpc_workload.PATH`; a call succeeds with status ``OK``, and the
status codes are gRPC's names.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hdrh.histogram import HdrHistogram

from smp.histogram import buckets_from_hdr
from smp.model import Latencies, LoadGenerator, PerformanceTestResult

REQUEST_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0
MAX_LATE_S = 5.0
"""Slots not sent this long after the schedule's end are abandoned (the target is down)."""
HDR_LOWEST_US = 1
HDR_HIGHEST_US = 3_600_000_000
HDR_SIGNIFICANT_DIGITS = 3
HISTOGRAM_BUCKETS = 200
TRANSPORT_ERROR = "-1"
"""Status-code key of requests that got no HTTP response (as fortio writes it)."""
NAME = "smp-runner"


class LoadError(Exception):
    """The target cannot be reached at all (no connection could be opened)."""


@dataclass(frozen=True)
class Plan:
    """A drawn schedule (real-world mode): for every slot, warm-up slots first, its send
    time in seconds from the start and the path (with query) it requests."""

    times: tuple[float, ...]
    paths: tuple[str, ...]
    warm_slots: int

    def __post_init__(self) -> None:
        if len(self.times) != len(self.paths) or not self.times:
            raise ValueError("a plan needs one path per send time, and at least one")
        if any(b < a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("a plan's send times are in order")


@dataclass(frozen=True)
class LoadSpec:
    url: str
    rate: float
    connections: int
    duration_s: float
    warmup_s: float = 0.0
    request_timeout_s: float = REQUEST_TIMEOUT_S
    keepalive: bool = True
    """False: each request on a new connection, closed after its response (churn)."""
    plan: Plan | None = None
    """Real-world mode: the send times and paths of every slot (``rate`` is then the
    plan's mean rate, for the record)."""

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.connections < 1:
            raise ValueError("connections must be at least 1")
        if self.duration_s <= 0 or self.warmup_s < 0:
            raise ValueError("duration must be positive and warm-up non-negative")


@dataclass
class LoadResult:
    """What one run measured (recorded window only)."""

    spec: LoadSpec
    histogram: Any
    request_count: int
    error_count: int
    status_codes: dict[str, int]
    not_sent: int
    start_time: dt.datetime
    end_time: dt.datetime
    measure_start: float
    """Monotonic time of the first recorded slot's intended send."""
    measure_end: float
    """Monotonic time of the last recorded completion."""
    actual_qps: float
    first_done: float = 0.0
    """Monotonic time of the first recorded completion (with ``measure_end``, the span
    ``actual_qps`` is measured over)."""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return max(self.measure_end - self.measure_start, 0.0)

    def latencies(self) -> Latencies:
        h = self.histogram
        if h.get_total_count() == 0:
            return Latencies()

        def ms(value: float) -> float:
            return round(value / 1000.0, 4)

        return Latencies(
            min=ms(h.get_min_value()),
            average=ms(h.get_mean_value()),
            p50=ms(h.get_value_at_percentile(50)),
            p90=ms(h.get_value_at_percentile(90)),
            p95=ms(h.get_value_at_percentile(95)),
            p99=ms(h.get_value_at_percentile(99)),
            p999=ms(h.get_value_at_percentile(99.9)),
            max=ms(h.get_max_value()),
        )

    def to_result(self, version: str | None = None) -> PerformanceTestResult:
        """The run as an SMP result (role, profile and resources are the caller's)."""
        histogram = (
            buckets_from_hdr(self.histogram, HISTOGRAM_BUCKETS, units_per_ms=1000.0)
            if self.histogram.get_total_count()
            else []
        )
        labels = dict(self.labels)
        if self.not_sent:
            labels["loadgen.not_sent"] = str(self.not_sent)
        return PerformanceTestResult(
            latencies_ms=self.latencies(),
            actual_qps=round(self.actual_qps, 3),
            start_time=self.start_time,
            end_time=self.end_time,
            duration_s=round(self.duration_s, 3),
            requested_qps=self.spec.rate,
            request_count=self.request_count,
            error_count=self.error_count,
            status_codes=dict(self.status_codes),
            histogram=histogram,
            load_generator=LoadGenerator(name=NAME, version=version),
            protocol="grpc" if _is_grpc(self.spec.url) else "http",
            connections=self.spec.connections,
            labels=labels,
        )


@dataclass
class _Target:
    host: str
    port: int
    request: bytes
    host_header: str = ""
    keepalive: bool = True

    def request_for(self, path: str) -> bytes:
        return _encode(path, self.host_header, self.keepalive)


def _is_grpc(url: str) -> bool:
    return url.startswith("grpc://")


def _encode(path: str, host_header: str, keepalive: bool) -> bytes:
    close = "" if keepalive else "Connection: close\r\n"
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {NAME}\r\n"
        f"Accept: */*\r\n{close}\r\n"
    ).encode("ascii")


def _target(url: str, keepalive: bool = True) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "grpc") or not parts.hostname:
        raise ValueError(f"only http:// and grpc:// URLs are supported, got {url!r}")
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host_header = parts.netloc
    request = _encode(path, host_header, keepalive)
    return _Target(parts.hostname, port, request, host_header, keepalive)


class _Run:
    """Shared state of one run: the schedule, the histogram and the counters."""

    def __init__(self, spec: LoadSpec, target: _Target) -> None:
        self.spec = spec
        self.target = target
        self.interval = 1.0 / spec.rate
        self.plan = spec.plan
        self.requests: list[bytes] | None = None
        if spec.plan is not None:
            self.warm_slots = spec.plan.warm_slots
            self.total_slots = len(spec.plan.times)
            encoded: dict[str, bytes] = {}
            self.requests = [
                encoded.get(p) or encoded.setdefault(p, target.request_for(p))
                for p in spec.plan.paths
            ]
        else:
            self.warm_slots = round(spec.warmup_s * spec.rate)
            self.total_slots = self.warm_slots + max(1, round(spec.duration_s * spec.rate))
        self.next_slot = 0
        self.t0 = 0.0
        self.give_up_at = 0.0
        self.histogram = HdrHistogram(HDR_LOWEST_US, HDR_HIGHEST_US, HDR_SIGNIFICANT_DIGITS)
        self.codes: dict[str, int] = {}
        self.errors = 0
        self.recorded = 0
        self.first_done = float("inf")
        self.last_done = 0.0
        self.not_sent = 0

    def intended(self, slot: int) -> float:
        if self.plan is not None:
            return self.t0 + self.plan.times[slot]
        return self.t0 + slot * self.interval

    def end_of_schedule(self) -> float:
        if self.plan is not None:
            return self.t0 + self.plan.times[-1] + self.interval
        return self.t0 + self.total_slots * self.interval

    def start_of_measure(self) -> float:
        if self.plan is not None:
            return self.t0 + self.plan.times[min(self.warm_slots, self.total_slots - 1)]
        return self.t0 + self.warm_slots * self.interval

    def record(self, slot: int, intended: float, done: float, code: str, ok: bool) -> None:
        if slot < self.warm_slots:
            return
        self.recorded += 1
        self.codes[code] = self.codes.get(code, 0) + 1
        if not ok:
            self.errors += 1
        if code != TRANSPORT_ERROR:
            micros = int((done - intended) * 1_000_000)
            self.histogram.record_value(min(max(micros, HDR_LOWEST_US), HDR_HIGHEST_US))
        self.first_done = min(self.first_done, done)
        self.last_done = max(self.last_done, done)


class _Connection:
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        target = self.run.target
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(target.host, target.port), CONNECT_TIMEOUT_S
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def aclose(self) -> None:
        self.close()

    @staticmethod
    def succeeded(code: str) -> bool:
        return code[:1] in ("2", "3")

    async def exchange(self, request: bytes) -> str:
        """Send ``request`` and read one response; the status code as text."""
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None and self.reader is not None
        self.writer.write(request)
        reader = self.reader
        head = await reader.readuntil(b"\r\n\r\n")
        code = head[9:12].decode("ascii", "replace")
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.find(b"\r\n", at + 17)
            length = int(lower[at + 17 : end])
            if length:
                await reader.readexactly(length)
        elif b"\r\ntransfer-encoding: chunked" in lower:
            await _read_chunked(reader)
        if b"\r\nconnection: close" in lower:
            self.close()
        return code


class _GrpcConnection:
    """One worker's gRPC channel: its own HTTP/2 connection (a local subchannel pool, so
    channels to one target do not share a connection), unary calls with raw bytes."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.channel: Any = None
        self.call: Any = None

    async def open(self) -> None:
        import grpc

        from runner.grpc_workload import PATH

        target = self.run.target
        self.channel = grpc.aio.insecure_channel(
            f"{target.host}:{target.port}", options=[("grpc.use_local_subchannel_pool", 1)]
        )
        await asyncio.wait_for(self.channel.channel_ready(), CONNECT_TIMEOUT_S)
        self.call = self.channel.unary_unary(PATH)  # no serializers: bytes in, bytes out

    def close(self) -> None:
        """Nothing to do between calls: a channel reconnects by itself after an error."""

    async def aclose(self) -> None:
        if self.channel is not None:
            await self.channel.close()
        self.channel = self.call = None

    @staticmethod
    def succeeded(code: str) -> bool:
        return code == "OK"

    async def exchange(self, request: bytes) -> str:
        """One unary call; its status code's name (``request`` is HTTP's: unused)."""
        import grpc

        if self.call is None:
            await self.open()
        try:
            await self.call(b"", timeout=self.run.spec.request_timeout_s)
        except grpc.aio.AioRpcError as exc:
            return str(exc.code().name)
        return "OK"


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # the empty trailer
            return
        await reader.readexactly(size + 2)


async def _worker(run: _Run, connection: _Connection | _GrpcConnection) -> None:
    loop = asyncio.get_running_loop()
    timeout = run.spec.request_timeout_s
    keepalive = run.spec.keepalive
    requests, request = run.requests, run.target.request
    while run.next_slot < run.total_slots:
        slot = run.next_slot
        run.next_slot = slot + 1
        intended = run.intended(slot)
        if requests is not None:
            request = requests[slot]
        now = loop.time()
        if now < intended:
            await asyncio.sleep(intended - now)
        elif now > run.give_up_at:
            run.not_sent += run.total_slots - slot
            run.next_slot = run.total_slots
            return
        try:
            async with asyncio.timeout(timeout):
                code = await connection.exchange(request)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            connection.close()
            run.record(slot, intended, loop.time(), TRANSPORT_ERROR, False)
            continue
        except ValueError:  # a malformed response head
            connection.close()
            run.record(slot, intended, loop.time(), TRANSPORT_ERROR, False)
            continue
        run.record(slot, intended, loop.time(), code, connection.succeeded(code))
        if not keepalive:
            connection.close()
    connection.close()


async def generate(spec: LoadSpec, start_at: float | None = None) -> LoadResult:
    """Run the schedule of ``spec`` against its URL; see the module docstring.

    ``start_at`` (a ``time.monotonic()`` value, the clock the event loop keeps) fixes the
    intended time of slot 0, so that several processes can share one schedule
    (:func:`run_load` with ``processes``)."""
    if spec.plan is not None and _is_grpc(spec.url):
        raise ValueError("a real-world plan is for HTTP: gRPC calls have no path or size")
    run = _Run(spec, _target(spec.url, spec.keepalive))
    kind = _GrpcConnection if _is_grpc(spec.url) else _Connection
    connections = [kind(run) for _ in range(spec.connections)]
    opened = await asyncio.gather(*(c.open() for c in connections), return_exceptions=True)
    failures = [e for e in opened if isinstance(e, BaseException)]
    if len(failures) == len(connections):
        raise LoadError(f"cannot connect to {spec.url}: {failures[0]!r}")
    if not spec.keepalive:
        # Every request opens its own connection: the ones opened to check the target
        # would make the first requests cheaper than the rest.
        for connection in connections:
            connection.close()
    loop = asyncio.get_running_loop()
    wall0, mono0 = dt.datetime.now(dt.UTC), loop.time()
    # Let every worker reach its first sleep before slot 0.
    run.t0 = start_at if start_at is not None else mono0 + 0.05
    run.give_up_at = run.end_of_schedule() + MAX_LATE_S
    try:
        await asyncio.gather(*(_worker(run, c) for c in connections))
    finally:
        await asyncio.gather(*(c.aclose() for c in connections), return_exceptions=True)
    measure_start = run.start_of_measure()
    measure_end = run.last_done if run.recorded else measure_start
    span = run.last_done - run.first_done
    if run.recorded > 1 and span > 0:
        actual_qps = (run.recorded - 1) / span
    else:
        actual_qps = run.recorded / max(spec.duration_s, 1e-9)

    def wall(mono: float) -> dt.datetime:
        return wall0 + dt.timedelta(seconds=mono - mono0)

    return LoadResult(
        spec=spec,
        histogram=run.histogram,
        request_count=run.recorded,
        error_count=run.errors,
        status_codes=dict(sorted(run.codes.items())),
        not_sent=run.not_sent,
        start_time=wall(measure_start),
        end_time=wall(max(measure_end, measure_start + 1e-3)),
        measure_start=measure_start,
        measure_end=measure_end,
        actual_qps=actual_qps,
        first_done=run.first_done if run.recorded else measure_start,
    )


def run_load(spec: LoadSpec, processes: int = 1) -> LoadResult:
    """Blocking wrapper: run :func:`generate` in a fresh event loop, or in ``processes``
    processes sharing the schedule (:func:`_run_shared`), at most one a connection."""
    if processes > spec.connections:
        raise ValueError(
            f"{processes} generator processes need at least as many connections "
            f"({spec.connections} asked): each process holds its own"
        )
    if processes <= 1:
        return asyncio.run(generate(spec))
    if spec.plan is not None:
        raise ValueError("a real-world plan runs in one generator process")
    return _run_shared(spec, processes)


def _share(spec: LoadSpec, start_at: float, index: int, count: int) -> dict[str, Any]:
    """One process's part of a shared schedule: every ``count``-th slot from ``index``,
    i.e. the rate divided by ``count`` from ``start_at + index / rate``. Returns what the
    parent merges (the histogram encoded, as HdrHistogram objects do not pickle)."""
    # The connections split as evenly as they go: 16 over 3 processes is 6, 5 and 5.
    connections = spec.connections // count + (1 if index < spec.connections % count else 0)
    part = LoadSpec(
        spec.url,
        spec.rate / count,
        connections,
        spec.duration_s,
        spec.warmup_s,
        spec.request_timeout_s,
    )
    # The monotonic clock is the machine's: the same in every process.
    result = asyncio.run(generate(part, start_at=start_at + index / spec.rate))
    return {
        "histogram": result.histogram.encode(),
        "request_count": result.request_count,
        "error_count": result.error_count,
        "status_codes": result.status_codes,
        "not_sent": result.not_sent,
        "first_done": result.first_done,
        "measure_end": result.measure_end,
    }


def _run_shared(spec: LoadSpec, processes: int) -> LoadResult:
    """The schedule of ``spec`` shared by ``processes`` processes, one event loop each.

    Slot ``i`` goes to process ``i mod N`` and keeps its intended time ``t0 + i / rate``,
    so the open-loop schedule and the coordinated-omission correction are those of one
    process; the HDR histograms (same bounds and precision) are added, counts summed, and
    ``actual_qps`` is computed from the first and last completion of all of them.
    """
    import concurrent.futures
    import multiprocessing
    import time

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        # Start the interpreters first: slot 0 must not fall inside their start-up.
        list(pool.map(abs, range(processes)))
        wall0, mono0 = dt.datetime.now(dt.UTC), time.monotonic()
        start_at = mono0 + 0.2
        parts = list(
            pool.map(
                _share,
                [spec] * processes,
                [start_at] * processes,
                range(processes),
                [processes] * processes,
            )
        )
    histogram = HdrHistogram(HDR_LOWEST_US, HDR_HIGHEST_US, HDR_SIGNIFICANT_DIGITS)
    codes: dict[str, int] = {}
    for part in parts:
        histogram.add(HdrHistogram.decode(part["histogram"]))
        for code, n in part["status_codes"].items():
            codes[code] = codes.get(code, 0) + n
    recorded = sum(p["request_count"] for p in parts)
    warm_slots = round(spec.warmup_s * spec.rate)
    measure_start = start_at + warm_slots / spec.rate
    first = min(p["first_done"] for p in parts)
    last = max(p["measure_end"] for p in parts)
    span = last - first
    actual_qps = (recorded - 1) / span if recorded > 1 and span > 0 else 0.0

    def wall(mono: float) -> dt.datetime:
        return wall0 + dt.timedelta(seconds=mono - mono0)

    return LoadResult(
        spec=spec,
        histogram=histogram,
        request_count=recorded,
        error_count=sum(p["error_count"] for p in parts),
        status_codes=dict(sorted(codes.items())),
        not_sent=sum(p["not_sent"] for p in parts),
        start_time=wall(measure_start),
        end_time=wall(max(last, measure_start + 1e-3)),
        measure_start=measure_start,
        measure_end=last,
        actual_qps=actual_qps,
        first_done=first,
        labels={"loadgen.processes": str(processes)},
    )
