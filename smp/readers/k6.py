"""k6 end-of-test summaries: ``--summary-export`` JSON and handleSummary() data JSON.

Both shapes hold a ``metrics`` object; they differ per metric:

* ``--summary-export``: the figures sit directly in the metric
  (``{"avg": ..., "p(95)": ..., "thresholds": {"p(95)<500": false}}``); a
  threshold's boolean is true when it FAILED. Rate metrics carry ``value``,
  ``passes`` (samples that were true) and ``fails``.
* handleSummary() data: ``{"type": "trend", "contains": "time", "values": {...},
  "thresholds": {"p(95)<500": {"ok": true}}}`` plus ``state.testRunDurationMs``.

Mapping: ``latencies_ms`` from the ``http_req_duration`` trend (all requests,
not the ``{expected_response:true}`` sub-metric), already in ms: ``min``,
``average`` (avg), ``p50`` (med, else ``p(50)``), ``p90``, ``p95``, ``p99``
and ``p999`` (``p(99.9)``) when the summaryTrendStats option asked for them
(k6's default is avg, min, med, max, p(90), p(95)), ``max``. ``actual_qps`` and
``request_count`` are the ``http_reqs`` rate and count. ``error_count`` is the
``passes`` of ``http_req_failed`` - a true sample there is a FAILED request -
(or its rate x count when passes is absent). ``duration_s`` is
``state.testRunDurationMs`` / 1000 when present, else count / rate of
``http_reqs`` (k6 computes that rate over the whole test run, so this is exact
to rounding). ``connections`` is the ``vus_max`` value (k6 opens connections
per VU, so this is the number of concurrent clients, not of sockets).
Threshold results become labels ``k6.threshold.<metric>.<expression>`` =
``ok`` / ``failed``; the ``checks`` rate becomes ``k6.checks.passes`` /
``k6.checks.fails``.

What k6 does not write here: a per-status-code breakdown, a histogram, the
requested rate (arrival-rate executors keep it in the script) and timestamps.
"""

from __future__ import annotations

import math
from typing import Any

from smp.errors import ReaderError
from smp.loaders import load_json
from smp.model import Latencies, LoadGenerator, PerformanceTestResult

NAME = "k6"

_BUILTIN_METRICS = frozenset(
    {"http_reqs", "http_req_duration", "http_req_failed", "iterations", "iteration_duration"}
)
_TREND_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("min", ("min",)),
    ("average", ("avg",)),
    ("p50", ("med", "p(50)")),
    ("p90", ("p(90)",)),
    ("p95", ("p(95)",)),
    ("p99", ("p(99)",)),
    ("p999", ("p(99.9)", "p(99.90)")),
    ("max", ("max",)),
)


def sniff(data: bytes) -> bool:
    """A JSON object whose ``metrics`` object names k6's built-in HTTP/iteration metrics."""
    if b'"metrics"' not in data or not any(
        f'"{name}"'.encode() in data for name in _BUILTIN_METRICS
    ):
        return False
    try:
        document = load_json(data, NAME)
    except ReaderError:
        return False
    return _shape(document) is not None


def _shape(document: Any) -> str | None:
    """ "handle-summary", "summary-export" or None (not k6)."""
    if not isinstance(document, dict) or not isinstance(document.get("metrics"), dict):
        return None
    metrics: dict[str, Any] = document["metrics"]
    if not _BUILTIN_METRICS & metrics.keys() or "root_group" not in document:
        return None
    bodies = [m for m in metrics.values() if isinstance(m, dict)]
    if bodies and all("type" in m and isinstance(m.get("values"), dict) for m in bodies):
        return "handle-summary"
    if bodies and not any("values" in m or "type" in m for m in bodies):
        return "summary-export"
    return None


def read(data: bytes) -> list[PerformanceTestResult]:
    """One result from either k6 summary shape; raises ReaderError."""
    document = load_json(data, NAME)
    shape = _shape(document)
    if shape is None:
        raise ReaderError(
            NAME,
            "not a k6 summary: expected a JSON object with 'root_group' and a 'metrics' object "
            "holding k6 metrics such as 'http_reqs' (--summary-export or handleSummary data)",
        )
    metrics: dict[str, Any] = document["metrics"]
    handle = shape == "handle-summary"

    def values(name: str) -> dict[str, Any] | None:
        metric = metrics.get(name)
        if metric is None:
            return None
        if not isinstance(metric, dict):
            raise ReaderError(NAME, f"metrics.{name} must be an object")
        body = metric.get("values") if handle else metric
        if not isinstance(body, dict):
            raise ReaderError(NAME, f"metrics.{name}.values must be an object")
        return body

    duration = values("http_req_duration")
    if duration is None:
        raise ReaderError(
            NAME,
            "metrics.http_req_duration is missing; k6 writes it only when the script made "
            "HTTP requests",
        )
    reqs = values("http_reqs") or {}
    count = _int(reqs, "count", "http_reqs")
    rate = _num(reqs, "rate", "http_reqs")
    result = PerformanceTestResult(
        latencies_ms=_latencies(duration),
        actual_qps=rate,
        duration_s=_duration(document, handle, count, rate),
        request_count=count,
        error_count=_errors(values("http_req_failed"), count),
        connections=_connections(values("vus_max") or values("vus")),
        load_generator=LoadGenerator(name=NAME),
        protocol="http",
        labels={"k6.summary": shape},
    )
    result.labels.update(_threshold_labels(metrics, handle))
    checks = values("checks")
    if checks is not None:
        for key in ("passes", "fails"):
            if (n := _int(checks, key, "checks")) is not None:
                result.labels[f"k6.checks.{key}"] = str(n)
    return [result]


def _num(body: dict[str, Any], key: str, metric: str) -> float | None:
    """A finite number at ``metrics.<metric>.<key>``, None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReaderError(NAME, f"metrics.{metric}.{key} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ReaderError(NAME, f"metrics.{metric}.{key} must be finite, got {value!r}")
    return float(value)


def _int(body: dict[str, Any], key: str, metric: str) -> int | None:
    value = _num(body, key, metric)
    if value is None:
        return None
    if value != int(value) or value < 0:
        raise ReaderError(NAME, f"metrics.{metric}.{key} must be a whole count, got {value!r}")
    return int(value)


def _latencies(body: dict[str, Any]) -> Latencies:
    found: dict[str, float | None] = {}
    for field, keys in _TREND_FIELDS:
        found[field] = next(
            (v for k in keys if (v := _num(body, k, "http_req_duration")) is not None), None
        )
    if all(v is None for v in found.values()):
        raise ReaderError(NAME, "metrics.http_req_duration holds none of avg, min, med, max, p(N)")
    return Latencies(**found)


def _duration(
    document: dict[str, Any], handle: bool, count: int | None, rate: float | None
) -> float | None:
    state = document.get("state")
    if handle and isinstance(state, dict) and "testRunDurationMs" in state:
        ms = _num(state, "testRunDurationMs", "state")
        return None if ms is None else ms / 1e3
    if count and rate:
        return count / rate
    return None


def _errors(body: dict[str, Any] | None, count: int | None) -> int | None:
    """Failed requests: ``passes`` of the http_req_failed rate (true = failed)."""
    if body is None:
        return None
    passes = _int(body, "passes", "http_req_failed")
    if passes is not None:
        return passes
    rate = _num(body, "rate", "http_req_failed")
    if rate is None:
        rate = _num(body, "value", "http_req_failed")
    if rate is None or count is None:
        return None
    return round(rate * count)


def _connections(body: dict[str, Any] | None) -> int | None:
    if body is None:
        return None
    for key in ("max", "value"):
        if (n := _int(body, key, "vus_max")) is not None:
            return n
    return None


def _threshold_labels(metrics: dict[str, Any], handle: bool) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name, metric in metrics.items():
        thresholds = metric.get("thresholds") if isinstance(metric, dict) else None
        if thresholds is None:
            continue
        if not isinstance(thresholds, dict):
            raise ReaderError(NAME, f"metrics.{name}.thresholds must be an object")
        for expression, outcome in thresholds.items():
            where = f"metrics.{name}.thresholds[{expression!r}]"
            if handle:
                ok = outcome.get("ok") if isinstance(outcome, dict) else None
                if not isinstance(ok, bool):
                    raise ReaderError(NAME, f"{where} must be {{'ok': true|false}}")
            else:
                if not isinstance(outcome, bool):
                    raise ReaderError(NAME, f"{where} must be true (failed) or false (passed)")
                ok = not outcome
            labels[f"k6.threshold.{name}.{expression}"] = "ok" if ok else "failed"
    return labels
