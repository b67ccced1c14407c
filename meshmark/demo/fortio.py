"""Native ``fortio load -json`` output written from a latency model.

A run's latencies follow :class:`LatencyModel`. Instead of drawing every
request (300,000 of them in an ``http-5k`` run), the writer draws the run's
fastest and slowest request from their order-statistic distributions and the
bucket counts in between as a multinomial (normal approximation per bucket,
then the total restored), which costs one pass over ~50 buckets. Only Python's
``random.Random`` is used, whose sequences are stable across Python versions,
so a seed gives the same bytes after a library upgrade and re-seeding still
deduplicates.

The document has fortio's shape (smp/readers/fortio.py reads it): durations in
seconds, ``ActualDuration`` in nanoseconds, only non-empty buckets exported,
the first bucket starting at ``Min`` and the last ending at ``Max``, and the
listed percentiles interpolated inside their bucket exactly as fortio does, so
the index's ``percentiles-match-histogram`` rule holds by construction.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from meshmark.demo.catalog import FORTIO_VERSION

RESOLUTION_S = 0.0001
"""fortio ``-r 0.0001``: 100 µs buckets at the low end (its default, 1 ms, is too coarse
for sub-millisecond in-cluster round trips)."""

# fortio's bucket offsets (stats.go, histogramBucketValues), in units of the resolution.
_BUCKET_OFFSETS = (
    *range(0, 12),
    *range(12, 20, 2),
    *range(20, 50, 5),
    *range(50, 100, 10),
    *range(100, 200, 20),
    *range(200, 500, 50),
    *range(500, 1000, 100),
    *(1000, 2000, 3000, 4000, 5000, 7500, 10000),
    *(20000, 30000, 40000, 50000, 75000, 100000),
)
BUCKET_EDGES_S: tuple[float, ...] = tuple(float(k) * RESOLUTION_S for k in _BUCKET_OFFSETS)
LISTED_PERCENTILES = (50.0, 75.0, 90.0, 99.0, 99.9)
"""fortio's default ``-p 50,75,90,99,99.9``."""

_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class LatencyModel:
    """Request latency in ms: ``shift_ms + Y``, Y lognormal with median ``median_ms``.

    A fraction ``tail_weight`` of requests take ``tail_scale`` times longer in
    their lognormal part (a slow mode: pauses, retransmits), which gives the
    heavy tail real runs show at p99.9 and max.
    """

    shift_ms: float
    median_ms: float
    sigma: float
    tail_weight: float = 0.0
    tail_scale: float = 1.0

    def cdf(self, x_ms: float) -> float:
        excess = x_ms - self.shift_ms
        if excess <= 0:
            return 0.0
        z = (math.log(excess / self.median_ms)) / self.sigma
        body = 0.5 * (1.0 + math.erf(z / _SQRT2))
        if self.tail_weight <= 0:
            return body
        z_tail = z - math.log(self.tail_scale) / self.sigma
        tail = 0.5 * (1.0 + math.erf(z_tail / _SQRT2))
        return (1.0 - self.tail_weight) * body + self.tail_weight * tail

    def quantile(self, q: float) -> float:
        """The latency below which a fraction ``q`` (0 < q < 1) of requests fall (bisection)."""
        low = self.shift_ms
        high = self.shift_ms + self.median_ms * max(self.tail_scale, 1.0) * math.exp(9 * self.sigma)
        for _ in range(100):
            mid = 0.5 * (low + high)
            if self.cdf(mid) < q:
                low = mid
            else:
                high = mid
            if high - low <= 1e-9 * high:
                break
        return 0.5 * (low + high)

    def scaled(self, factor: float) -> LatencyModel:
        """Every latency ``factor`` times longer (a noisy neighbour, a slower machine)."""
        return LatencyModel(
            self.shift_ms * factor,
            self.median_ms * factor,
            self.sigma,
            self.tail_weight,
            self.tail_scale,
        )


@dataclass(frozen=True)
class FortioRun:
    """What one fortio invocation was asked to do and what happened around it."""

    url: str
    requested_qps: float
    connections: int
    duration_s: float
    start: dt.datetime
    labels: str
    grpc: bool
    error_rate: float
    payload_bytes: int


def _bucket_s(bound_ms: float) -> float:
    """A latency in seconds rounded to the nanosecond, as Go's time.Duration has it."""
    return round(bound_ms / 1e3, 9)


def histogram(
    model: LatencyModel, count: int, rng: random.Random
) -> tuple[list[dict[str, Any]], float, float]:
    """fortio's exported ``Data`` buckets for ``count`` requests, and the run's min and max (s)."""
    # The smallest of n uniforms is 1-(1-U)^(1/n), the largest U^(1/n).
    q_min = -math.expm1(math.log1p(-rng.random()) / count)
    q_max = math.exp(math.log(1.0 - rng.random()) / count)
    low_s = _bucket_s(model.quantile(max(q_min, 1e-15)))
    high_s = max(_bucket_s(model.quantile(min(q_max, 1.0 - 1e-15))), low_s)
    edges = [low_s, *(e for e in BUCKET_EDGES_S if low_s < e < high_s), high_s]
    cdf = [model.cdf(e * 1e3) for e in edges]
    weights = [max(b - a, 0.0) for a, b in pairwise(cdf)]
    if not weights or sum(weights) <= 0:
        edges, weights = [low_s, high_s], [1.0]
    counts = _multinomial(max(count - 2, 0), weights, rng)
    counts[0] += 1  # the fastest request
    counts[-1] += 1 if count > 1 else 0  # the slowest
    data: list[dict[str, Any]] = []
    cumulative = 0
    for index, bucket_count in enumerate(counts):
        if bucket_count == 0:
            continue  # fortio exports only the buckets that hold requests
        cumulative += bucket_count
        data.append(
            {
                "Start": edges[index],
                "End": edges[index + 1],
                "Percent": 100.0 * cumulative / count,
                "Count": bucket_count,
            }
        )
    return data, low_s, high_s


def _multinomial(total: int, weights: list[float], rng: random.Random) -> list[int]:
    """Counts of ``total`` draws over cells of these weights: each cell's binomial by its
    normal approximation, rounded, then the difference to ``total`` put in the largest."""
    scale = sum(weights)
    counts = []
    for weight in weights:
        p = weight / scale
        mean = total * p
        counts.append(max(round(mean + math.sqrt(mean * (1.0 - p)) * rng.gauss(0.0, 1.0)), 0))
    largest = max(range(len(counts)), key=counts.__getitem__)
    counts[largest] = max(counts[largest] + total - sum(counts), 0)
    return counts


def binomial(trials: int, p: float, rng: random.Random) -> int:
    """One binomial draw (normal approximation, clipped to [0, trials])."""
    mean = trials * p
    return min(max(round(mean + math.sqrt(mean * (1.0 - p)) * rng.gauss(0.0, 1.0)), 0), trials)


def percentile(data: list[dict[str, Any]], q: float) -> float:
    """fortio's CalcPercentile: linear interpolation inside the bucket that reaches ``q``."""
    previous = 0.0
    for bucket in data:
        if q <= bucket["Percent"]:
            span = bucket["Percent"] - previous
            fraction = (q - previous) / span if span > 0 else 1.0
            value: float = bucket["Start"] + fraction * (bucket["End"] - bucket["Start"])
            return value
        previous = bucket["Percent"]
    last: float = data[-1]["End"]
    return last


def _summary(data: list[dict[str, Any]], count: int, low: float, high: float) -> dict[str, Any]:
    mids = [(b["Start"] + b["End"]) / 2 for b in data]
    average = sum(m * b["Count"] for m, b in zip(mids, data, strict=True)) / count
    average = min(max(average, low), high)
    variance = sum(b["Count"] * (m - average) ** 2 for m, b in zip(mids, data, strict=True))
    return {
        "Count": count,
        "Min": low,
        "Max": high,
        "Sum": average * count,
        "Avg": average,
        "StdDev": math.sqrt(variance / count),
        "Data": data,
        "Percentiles": [
            {"Percentile": q, "Value": percentile(data, q)} for q in LISTED_PERCENTILES
        ],
    }


def _errors_histogram(errors: int, low: float, high: float) -> dict[str, Any]:
    if errors == 0:
        return {"Count": 0, "Min": 0, "Max": 0, "Sum": 0, "Avg": 0, "StdDev": 0, "Data": None}
    return {
        "Count": errors,
        "Min": low,
        "Max": high,
        "Sum": (low + high) / 2 * errors,
        "Avg": (low + high) / 2,
        "StdDev": (high - low) / 4,
        "Data": [{"Start": low, "End": high, "Percent": 100, "Count": errors}],
    }


def _go_time(value: dt.datetime) -> str:
    """RFC 3339 with nine fraction digits, as Go's time.Time marshals (datetime stops at
    microseconds; the last three digits are derived from them, not measured)."""
    nanos = (value.microsecond * 7919) % 1000
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}{nanos:03d}Z"


def fortio_document(run: FortioRun, model: LatencyModel, rng: random.Random) -> dict[str, Any]:
    """One ``fortio load -json`` result for ``run`` with latencies drawn from ``model``.

    The achieved rate is the requested one minus fortio's usual shortfall, and
    never more than the connections can carry at the run's mean latency (a
    closed loop of ``connections`` in-flight requests), which is where a slow
    noisy-neighbour run loses throughput.
    """
    mean_s = model.quantile(0.5) / 1e3 * 1.15 + 1e-6
    capacity = run.connections / mean_s
    target = min(run.requested_qps * (1.0 - 0.0006 * rng.random()), capacity * 0.97)
    duration_ns = int(run.duration_s * 1e9) + rng.randrange(200_000, 40_000_000)
    count = max(round(target * duration_ns / 1e9), 2)
    data, low, high = histogram(model, count, rng)
    errors = binomial(count, run.error_rate, rng) if run.error_rate > 0 else 0
    ok_code = "SERVING" if run.grpc else "200"
    codes = {ok_code: count - errors}
    if errors:
        codes["UNAVAILABLE" if run.grpc else "503"] = errors
    doc: dict[str, Any] = {
        "RunType": f"GRPC Ping PayloadLength={run.payload_bytes}" if run.grpc else "HTTP",
        "Labels": run.labels,
        "StartTime": _go_time(run.start),
        "RequestedQPS": f"{run.requested_qps:g}",
        "RequestedDuration": f"{int(run.duration_s // 60)}m{int(run.duration_s % 60)}s",
        "ActualQPS": count / (duration_ns / 1e9),
        "ActualDuration": duration_ns,
        "NumThreads": run.connections,
        "Version": FORTIO_VERSION,
        "DurationHistogram": _summary(data, count, low, high),
        "ErrorsDurationHistogram": _errors_histogram(errors, low, high),
        "Exactly": 0,
        "Jitter": False,
        "Uniform": False,
        "NoCatchUp": False,
        "RunID": 0,
        "AccessLoggerInfo": "",
        "ID": run.start.strftime("%Y-%m-%d-%H%M%S"),
        "RetCodes": codes,
    }
    if run.grpc:
        doc.update({"Destination": run.url, "Streams": 1, "Ping": True})
    else:
        doc.update(
            {
                "IPCountMap": {
                    f"10.96.{len(run.url) % 200}.{run.connections}:8080": run.connections
                },
                "Insecure": False,
                "MTLS": False,
                "URL": run.url,
                "NumConnections": 1,
                "Compression": False,
                "HTTP10": False,
                "H2": False,
                "DisableKeepAlive": False,
                "HTTPReqTimeOut": 3000000000,
                "ContentType": "application/octet-stream" if run.payload_bytes else "",
                "Payload": None,
                "SequentialWarmup": False,
                "Offset": 0,
                "Resolution": RESOLUTION_S,
                "Sockets": [1] * run.connections,
                "SocketCount": run.connections,
                "AbortOn": 0,
            }
        )
    return doc


def fortio_text(doc: dict[str, Any]) -> str:
    """The document as fortio writes it (Go's two-space MarshalIndent): the text
    ``json.dumps(doc, indent=2) + "\n"`` gives, written without the encoder's generators
    (the standard library encodes indented JSON in pure Python, a fifth of making a demo
    bundle; tests/meshmark/test_demo_fortio_text.py holds the two equal)."""
    out: list[str] = []
    _indented(doc, out, "\n")
    out.append("\n")
    return "".join(out)


_STRING = json.encoder.encode_basestring_ascii  # what json.dumps uses (ensure_ascii)
_SCALARS = {True: "true", False: "false", None: "null"}


def _indented(value: Any, out: list[str], newline: str) -> None:
    """Append ``value`` as json.dumps(indent=2) writes it; ``newline`` ends a line and
    indents the next one to this value's level."""
    kind = type(value)
    if kind is str:
        out.append(_STRING(value))
    elif kind is float:
        out.append(_number(value))
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        sep = "{" + inner
        for key, item in value.items():
            out.append(sep)
            out.append(_STRING(key if type(key) is str else _key(key)))
            out.append(": ")
            _indented(item, out, inner)
            sep = "," + inner
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        sep = "[" + inner
        for item in value:
            out.append(sep)
            _indented(item, out, inner)
            sep = "," + inner
        out.append(newline + "]")
    elif value is None or kind is bool:
        out.append(_SCALARS[value])
    else:
        out.append(json.dumps(value))  # nothing the demo writes; the encoder's own answer


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    if isinstance(key, bool) or key is None:
        return _SCALARS[key]
    return _number(key) if isinstance(key, float) else str(key)
