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

Implementation (HTTP): no task or future per request. Each keep-alive
connection is an ``asyncio.Protocol`` that parses its response straight from the
bytes received (``Content-Length``, chunked, or until close; ``Connection:
close`` honoured) and reports the completion; a scheduler hands the next due
slot to an idle connection from that completion, or from one timer set for the
next slot's intended time. The request is pre-encoded, latencies go to the
histogram in batches, and :func:`run_load` runs on uvloop when it is installed.

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
import ctypes
import datetime as dt
import os
import sys
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic
from typing import Any, cast
from urllib.parse import urlsplit

import numpy as np
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
TIMER_RESOLUTION_S = 0.001
"""The shortest wait event loops can time: epoll's timeout is in milliseconds, and uvloop
rounds a delay to the nearest one (shorter ones would spin). See :class:`_SlotTimer`."""
TIMER_MIN_GAP_S = 0.0001
"""The shortest time between two wake-ups of :class:`_SlotTimer` (each costs a few
microseconds of system calls, which at high rates is more than a slot's interval)."""
FLUSH_EVERY = 65536
"""Latencies kept in an array before they are added to the histogram in one batch."""


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
    """Shared state of one run: the schedule, the histogram and the counters.

    Latencies are not put in the histogram one by one (``record_value`` is a few
    microseconds of Python each): they are appended to an array and added in batches,
    each distinct value once with its count.
    """

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
        self.sub_bucket_bits = int(self.histogram.sub_bucket_count).bit_length() - 1
        self.pending = array("d")
        """Latencies in seconds, not yet in the histogram."""
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

    def request(self, slot: int) -> bytes:
        return self.requests[slot] if self.requests is not None else self.target.request

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
            self.pending.append(done - intended)
            if len(self.pending) >= FLUSH_EVERY:
                self.flush()
        if done < self.first_done:
            self.first_done = done
        if done > self.last_done:
            self.last_done = done

    def flush(self) -> None:
        """Add the pending latencies to the histogram: each distinct value once, with its
        count, after rounding every value down to the lowest value of its HDR bucket (the
        bucket it counts in either way, so the histogram is the same but for its exact
        minimum, which moves by less than its 3 significant digits)."""
        if not self.pending:
            return
        micros = (np.frombuffer(self.pending, dtype=np.float64) * 1_000_000).astype(np.int64)
        np.clip(micros, HDR_LOWEST_US, HDR_HIGHEST_US, out=micros)
        # Values below the sub-bucket count are exact; above, a bucket spans 2**shift.
        _, exponent = np.frexp(micros)
        shift = np.maximum(exponent - self.sub_bucket_bits, 0)
        values, counts = np.unique((micros >> shift) << shift, return_counts=True)
        record = self.histogram.record_value
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            record(value, count)
        del self.pending[:]


# What the HTTP/1.1 parser of a connection expects next.
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER, _UNTIL_CLOSE = range(6)
_MAX_LINE = 65536
"""A response head or chunk-size line longer than this is malformed."""
_KNOWN_HEADS = 64
"""Response heads remembered with their status code and body length."""


class _HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, for as long as its socket lives.

    Not a stream: the protocol parses each response from the bytes as they arrive
    (``Content-Length``, chunked, or until close) without buffering bodies, and reports
    the completion to the :class:`_HttpEngine`, which hands it the next slot. Once its
    socket is closed (``Connection: close``, an error, a timeout) it is dead, and the
    engine puts a fresh, unconnected one in its place that connects when given a slot.
    """

    def __init__(self, engine: _HttpEngine, index: int) -> None:
        self.engine = engine
        self.index = index
        self.transport: asyncio.Transport | None = None
        self.dead = False
        self.slot = -1
        """The slot whose request is in flight, -1 when idle."""
        self.intended = 0.0
        self.sent = 0.0
        self.state = _HEAD
        self.remaining = 0
        self.buffer = b""
        self.code = b""
        self.close_after = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A socket transport (uvloop's is not a subclass of asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.state == _HEAD and not self.buffer and self.slot >= 0:
            # The usual case: a whole response in one read, with a head seen before
            # (a server's heads differ by their Date only, once a second).
            end = data.find(b"\r\n\r\n")
            known = self.engine.heads.get(data[:end]) if end > 0 else None
            if known is not None and len(data) == end + 4 + known[1]:
                self.code, _, self.close_after = known
                self.engine.completed(self)
                return
        if self.slot < 0:  # nothing was asked
            self.engine.failed(self, None)
            return
        try:
            complete = self._parse(data)
        except ValueError:  # a malformed response
            self.engine.failed(self, None)
            return
        if complete:
            self.engine.completed(self)

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.dead:
            return
        if self.slot >= 0 and self.state == _UNTIL_CLOSE:
            self.close_after = True
            self.engine.completed(self)
        else:
            self.engine.failed(self, exc)

    # the engine's side

    def send(self, slot: int, intended: float, now: float) -> None:
        self.slot = slot
        self.intended = intended
        self.sent = now
        if self.transport is None:
            self.engine.connect(self)
        else:
            self.transport.write(self.engine.run.request(slot))

    def kill(self) -> None:
        """Close the socket, abruptly (a response half read is of no use)."""
        self.dead = True
        self.slot = -1
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.abort()

    # parsing

    def _parse(self, data: bytes) -> bool:
        """Take in ``data``; whether the response is now complete (the state is reset)."""
        buf = self.buffer + data if self.buffer else data
        pos = 0
        state = self.state
        while True:
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    return self._keep(buf, pos, state)
                state = self._head(buf[pos:end])
                pos = end + 4
                if state == _HEAD and self.code[:1] != b"1":  # no body (1xx: interim)
                    break
            elif state == _BODY:
                if len(buf) - pos < self.remaining:
                    self.remaining -= len(buf) - pos
                    return self._keep(b"", 0, state)
                pos += self.remaining
                state = _HEAD
                break
            elif state in (_CHUNK_SIZE, _TRAILER):
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return self._keep(buf, pos, state)
                if state == _TRAILER:
                    empty = eol == pos
                    pos = eol + 2
                    if empty:
                        state = _HEAD
                        break
                    continue  # a trailer field
                size = int(buf[pos:eol].split(b";", 1)[0], 16)
                pos = eol + 2
                if size < 0:
                    raise ValueError("negative chunk size")
                if size == 0:
                    state = _TRAILER
                else:
                    self.remaining = size + 2  # and its CRLF
                    state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                if len(buf) - pos < self.remaining:
                    self.remaining -= len(buf) - pos
                    return self._keep(b"", 0, state)
                pos += self.remaining
                state = _CHUNK_SIZE
            else:  # _UNTIL_CLOSE: the body is whatever comes before the close
                return self._keep(b"", 0, state)
        # Complete. Bytes beyond the response were not asked for (no pipelining).
        if pos < len(buf):
            raise ValueError("bytes after the response")
        self.state = _HEAD
        if self.buffer:
            self.buffer = b""
        return True

    def _keep(self, buf: bytes, pos: int, state: int) -> bool:
        if len(buf) - pos > _MAX_LINE:
            raise ValueError("response head or chunk line too long")
        self.buffer = buf[pos:] if pos else buf
        self.state = state
        return False

    def _head(self, raw: bytes) -> int:
        """Read a response head (without the blank line); the next state."""
        head = raw.lower()
        if not head.startswith(b"http/1.") or head[12:13] not in (b" ", b"\r", b""):
            raise ValueError("not an HTTP/1.x response")
        self.code = code = head[9:12]
        if not code.isdigit():
            raise ValueError("no status code")
        self.close_after = b"\r\nconnection: close" in head or (
            head.startswith(b"http/1.0") and b"\r\nconnection: keep-alive" not in head
        )
        if code[:1] == b"1":
            return _HEAD
        if code == b"204" or code == b"304":
            self._known(raw, 0)
            return _HEAD
        if b"\r\ntransfer-encoding:" in head and b"chunked" in head:
            return _CHUNK_SIZE
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            return _UNTIL_CLOSE
        end = head.find(b"\r\n", at + 17)
        length = int(head[at + 17 : end] if end >= 0 else head[at + 17 :])
        if length < 0:
            raise ValueError("negative content-length")
        self._known(raw, length)
        if length == 0:
            return _HEAD
        self.remaining = length
        return _BODY

    def _known(self, raw: bytes, length: int) -> None:
        """Remember a head whose response has a known length, for the fast path."""
        heads = self.engine.heads
        if len(heads) >= _KNOWN_HEADS:
            heads.clear()
        heads[raw] = (self.code, length, self.close_after)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1


class _SlotTimer:
    """Calls ``callback`` at a ``time.monotonic()`` instant, one instant at a time.

    The next slot is often less than a millisecond away, which event loop timers cannot
    wait for (see :data:`TIMER_RESOLUTION_S`): at 5,000 req/s they sent slots up to 1 ms
    late, in bursts, and the lateness counts in the latency. On Linux the timer is a
    ``timerfd`` on the monotonic clock, armed at the absolute instant and watched by the
    loop, which wakes within the kernel's timer slack (50 us); elsewhere, ``call_later``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self.loop = loop
        self.callback = callback
        self.armed = False
        self.last = 0.0
        self.handle: asyncio.TimerHandle | None = None
        self.fd = -1
        self.spec = _Itimerspec()
        self.settime: Any = None
        if sys.platform != "linux" or ctypes.sizeof(ctypes.c_long) != 8:
            return
        if time.get_clock_info("monotonic").implementation != "clock_gettime(CLOCK_MONOTONIC)":
            return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            create, settime = libc.timerfd_create, libc.timerfd_settime
        except (OSError, AttributeError):
            return
        create.argtypes = [ctypes.c_int, ctypes.c_int]
        settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        ]
        fd = create(_CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return
        try:
            loop.add_reader(fd, self._expired)
        except (NotImplementedError, OSError, ValueError):
            os.close(fd)
            return
        self.fd, self.settime = fd, settime

    def arm(self, at: float) -> None:
        """Call back at ``at`` (at once if it is past), unless already armed."""
        if self.armed:
            return
        self.armed = True
        # At most one wake-up per TIMER_MIN_GAP_S: above 10,000 req/s the slots due meanwhile
        # go out together, up to that much late (and that lateness counts in the latency).
        at = max(at, self.last + TIMER_MIN_GAP_S)
        self.last = at
        if self.fd >= 0:
            value = self.spec.it_value
            value.tv_sec = int(at)
            value.tv_nsec = int((at - value.tv_sec) * 1_000_000_000)
            if self.settime(self.fd, _TFD_TIMER_ABSTIME, ctypes.byref(self.spec), None) == 0:
                return
        delay = max(at - monotonic(), TIMER_RESOLUTION_S)
        self.handle = self.loop.call_later(delay, self._fire)

    def _expired(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:  # disarmed meanwhile
            return
        self._fire()

    def _fire(self) -> None:
        self.armed = False
        self.handle = None
        self.callback()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
        self.armed = True  # never again


class _HttpEngine:
    """The HTTP/1.1 side of a run: hands out slots to idle connections by callbacks.

    No task per request and no task per connection: a slot is sent as soon as it is due
    and a connection is idle (from a timer set for the next slot's intended time, or from
    a completion when slots are overdue), and each completion is recorded as it is parsed.
    The schedule and the latency (``done - intended``) are those of the module docstring;
    the time is ``time.monotonic()`` (uvloop's ``loop.time()`` counts whole milliseconds).
    """

    def __init__(self, run: _Run, loop: asyncio.AbstractEventLoop, connections: int) -> None:
        self.run = run
        self.loop = loop
        self.request = run.target.request
        self.connections = [_HttpConnection(self, i) for i in range(connections)]
        # First in, first out: the slots go round the connections, as they did when each
        # connection was a worker waiting for its next slot.
        self.idle = deque(self.connections)
        self.timer = _SlotTimer(loop, self.pump)
        self.watchdog: asyncio.TimerHandle | None = None
        self.finished: asyncio.Future[None] = loop.create_future()
        self.tasks: set[asyncio.Task[None]] = set()
        self.codes: dict[bytes, int] = {}
        self.heads: dict[bytes, tuple[bytes, int, bool]] = {}

    async def open(self) -> list[BaseException]:
        """Connect every connection; the errors of those that could not."""
        opened = await asyncio.gather(
            *(self._open(c) for c in self.connections), return_exceptions=True
        )
        return [e for e in opened if isinstance(e, BaseException)]

    async def _open(self, connection: _HttpConnection) -> None:
        target = self.run.target
        await asyncio.wait_for(
            self.loop.create_connection(lambda: connection, target.host, target.port),
            CONNECT_TIMEOUT_S,
        )

    async def run_schedule(self) -> None:
        self._watch()
        self.pump()
        try:
            await self.finished
        finally:
            self.timer.close()
            if self.watchdog is not None:
                self.watchdog.cancel()
            for task in list(self.tasks):
                task.cancel()
            for connection in self.connections:
                connection.kill()
            self._merge_codes()

    def pump(self) -> None:
        """Send every due slot that an idle connection can take; else wait for the next."""
        idle = self.idle
        run = self.run
        slot = run.next_slot
        total = run.total_slots
        if idle and slot < total:
            now = monotonic()
            t0, interval = run.t0, run.interval
            times = run.plan.times if run.plan is not None else None
            while idle and slot < total:
                intended = t0 + (times[slot] if times is not None else slot * interval)
                if intended > now:
                    self.timer.arm(intended)
                    break
                if now > run.give_up_at:
                    run.not_sent += total - slot
                    slot = total
                    break
                idle.popleft().send(slot, intended, now)
                slot += 1
            run.next_slot = slot
        if slot >= total and len(idle) == len(self.connections) and not self.finished.done():
            self.finished.set_result(None)

    def _watch(self) -> None:
        """Every so often: abort the requests older than the request timeout."""
        timeout = self.run.spec.request_timeout_s
        now = monotonic()
        for connection in self.connections:
            if connection.slot >= 0 and now - connection.sent > timeout:
                self.failed(connection, None)
        self.watchdog = self.loop.call_later(min(max(timeout / 10, 0.01), 0.25), self._watch)
        self.pump()

    def completed(self, connection: _HttpConnection) -> None:
        done = monotonic()
        run = self.run
        slot = connection.slot
        if slot >= run.warm_slots:
            codes = self.codes
            code = connection.code
            codes[code] = codes.get(code, 0) + 1  # counted and told apart in _merge_codes
            pending = run.pending
            pending.append(done - connection.intended)
            if len(pending) >= FLUSH_EVERY:
                run.flush()
            if done < run.first_done:
                run.first_done = done
            run.last_done = done
        connection.slot = -1
        if connection.close_after or not run.spec.keepalive:
            connection.kill()
            connection = self._replace(connection)
        self.idle.append(connection)
        self.pump()

    def failed(self, connection: _HttpConnection, exc: BaseException | None) -> None:
        """The connection is unusable: its request (if any) is a transport error."""
        slot = connection.slot
        if slot >= 0:
            self.run.record(slot, connection.intended, monotonic(), TRANSPORT_ERROR, False)
        if not connection.dead:
            connection.kill()
            if slot < 0 and connection in self.idle:
                self.idle.remove(connection)
            elif slot < 0:
                return  # not idle, not busy: being connected, its task reports
            self.idle.append(self._replace(connection))
            self.pump()

    def fresh_connections(self) -> None:
        """Close every connection opened so far; unconnected ones take their place (each
        connects when given a slot)."""
        for connection in list(self.connections):
            connection.kill()
        self.idle = deque(self._replace(c) for c in list(self.connections))

    def _replace(self, dead: _HttpConnection) -> _HttpConnection:
        fresh = _HttpConnection(self, dead.index)
        self.connections[dead.index] = fresh
        return fresh

    def connect(self, connection: _HttpConnection) -> None:
        """(Re)connect an unconnected connection, then send its slot's request."""
        task = self.loop.create_task(self._connect_and_send(connection))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect_and_send(self, connection: _HttpConnection) -> None:
        target = self.run.target
        try:
            await asyncio.wait_for(
                self.loop.create_connection(lambda: connection, target.host, target.port),
                self.run.spec.request_timeout_s,
            )
        except (OSError, TimeoutError):
            self.failed(connection, None)
            return
        if connection.dead:  # timed out meanwhile: its slot is already counted
            connection.kill()
        elif connection.transport is not None and connection.slot >= 0:
            connection.transport.write(self.run.request(connection.slot))

    def _merge_codes(self) -> None:
        run = self.run
        for code, count in self.codes.items():
            key = code.decode("ascii")
            run.codes[key] = run.codes.get(key, 0) + count
            run.recorded += count
            if key[:1] not in ("2", "3"):
                run.errors += count
        self.codes.clear()


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

    async def exchange(self) -> str:
        """One unary call; its status code's name."""
        import grpc

        if self.call is None:
            await self.open()
        try:
            await self.call(b"", timeout=self.run.spec.request_timeout_s)
        except grpc.aio.AioRpcError as exc:
            return str(exc.code().name)
        return "OK"


async def _worker(run: _Run, connection: _GrpcConnection) -> None:
    timeout = run.spec.request_timeout_s
    while run.next_slot < run.total_slots:
        slot = run.next_slot
        run.next_slot = slot + 1
        intended = run.intended(slot)
        now = monotonic()
        if now < intended:
            await asyncio.sleep(intended - now)
        elif now > run.give_up_at:
            run.not_sent += run.total_slots - slot
            run.next_slot = run.total_slots
            return
        try:
            async with asyncio.timeout(timeout):
                code = await connection.exchange()
        except (OSError, TimeoutError):
            connection.close()
            run.record(slot, intended, monotonic(), TRANSPORT_ERROR, False)
            continue
        run.record(slot, intended, monotonic(), code, connection.succeeded(code))
    connection.close()


async def generate(spec: LoadSpec, start_at: float | None = None) -> LoadResult:
    """Run the schedule of ``spec`` against its URL; see the module docstring.

    ``start_at`` (a ``time.monotonic()`` value, the clock latencies are measured on) fixes
    the intended time of slot 0, so that several processes can share one schedule
    (:func:`run_load` with ``processes``). Any event loop will do; :func:`run_load` picks
    uvloop for ``http://`` when it is installed."""
    if spec.plan is not None and _is_grpc(spec.url):
        raise ValueError("a real-world plan is for HTTP: gRPC calls have no path or size")
    run = _Run(spec, _target(spec.url, spec.keepalive))
    loop = asyncio.get_running_loop()
    engine: _HttpEngine | None = None
    if _is_grpc(spec.url):
        connections = [_GrpcConnection(run) for _ in range(spec.connections)]
        opened = await asyncio.gather(*(c.open() for c in connections), return_exceptions=True)
        failures = [e for e in opened if isinstance(e, BaseException)]
    else:
        engine = _HttpEngine(run, loop, spec.connections)
        failures = await engine.open()
    if len(failures) == spec.connections:
        raise LoadError(f"cannot connect to {spec.url}: {failures[0]!r}")
    if engine is not None and not spec.keepalive:
        # Every request opens its own connection: the ones opened to check the target
        # would make the first requests cheaper than the rest.
        engine.fresh_connections()
    wall0, mono0 = dt.datetime.now(dt.UTC), monotonic()
    # Let every worker reach its first sleep before slot 0.
    run.t0 = start_at if start_at is not None else mono0 + 0.05
    run.give_up_at = run.end_of_schedule() + MAX_LATE_S
    if engine is not None:
        await engine.run_schedule()
    else:
        try:
            await asyncio.gather(*(_worker(run, c) for c in connections))
        finally:
            await asyncio.gather(*(c.aclose() for c in connections), return_exceptions=True)
    run.flush()
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
        return _run_in_new_loop(generate(spec), spec.url)
    if spec.plan is not None:
        raise ValueError("a real-world plan runs in one generator process")
    return _run_shared(spec, processes)


def _loop_factory(url: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop for ``http://`` when uvloop is installed (it halves the per-request
    cost of the event loop); asyncio's otherwise, and for gRPC, whose ``grpc.aio`` runs on
    asyncio's own loop only."""
    if _is_grpc(url):
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _run_in_new_loop(coroutine: Any, url: str) -> LoadResult:
    with asyncio.Runner(loop_factory=_loop_factory(url)) as runner:
        result: LoadResult = runner.run(coroutine)
    return result


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
    result = _run_in_new_loop(generate(part, start_at=start_at + index / spec.rate), spec.url)
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
