"""Consistency checks: figures that are each valid but do not fit together.

The schema says a p99 is a number >= 0; these checks say the p99 is not below
the p50, the request count fits the rate and the duration, the latencies are
not seconds written as milliseconds, and a bundle pairs one baseline with its
mesh runs (or interleaves several pairs, each baseline before its mesh runs).
Every problem found is returned (never only the first), each with
a field path (``runs[1].latencies_ms.p99``) and a stable rule name; docs/smp.md
has the table of rules and tolerances.

Rules in :data:`WARNING_RULES` are reported but do not reject a submission.
A non-finite figure is reported once under ``finite-number`` and then left out
of every other rule, so one NaN does not cascade into unrelated problems.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

from smp.document import format_path
from smp.errors import Problem
from smp.histogram import bucket_order_issues, locate_percentile, total_count
from smp.model import (
    LATENCY_ORDER,
    MESH_TYPES,
    ROLES,
    Bundle,
    Latencies,
    PerformanceTestResult,
)

WARNING_RULES: frozenset[str] = frozenset({"baseline-missing", "latency-seconds-corrected"})
"""Rules that are reported as warnings: the submission is still accepted."""

REQUEST_RATE_TOLERANCE = 0.10
"""request_count may differ from actual_qps x duration_s by 10% of the product ..."""
REQUEST_RATE_SLACK = 1.0
"""... plus one request (a run that ends mid-request)."""

DURATION_TOLERANCE = 0.10
"""duration_s may differ from end_time - start_time by 10% of the longer ..."""
DURATION_SLACK_S = 1.0
"""... plus one second (timestamps rounded to seconds, set-up before the first request)."""

PERCENTILE_TOLERANCE = 0.05
"""A reported percentile may differ from the histogram's by 5%, or by the width of the
bucket it falls in, whichever is larger (tools interpolate differently inside a bucket)."""
CHECKED_PERCENTILES: tuple[tuple[float, str], ...] = ((50, "p50"), (90, "p90"), (99, "p99"))

SECONDS_P50_MS = 0.05
"""A p50 below 50 microseconds ..."""
SECONDS_MAX_MS = 1.0
"""... together with a max below 1 ms is taken for seconds written under latencies_ms."""

_EPS = 1e-9

_At = Callable[[str], str]
"""Turns a field name into the full path of that field in the result being checked."""


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


def _slack(value: float) -> float:
    """Room for float rounding when comparing two figures that should be ordered."""
    return _EPS * max(1.0, abs(value))


def _numbers_fine(value: Any) -> bool:
    """Whether every number inside a ``to_dict`` shape is finite and >= 0: the common case,
    answered without building a path for each of them (a histogram has hundreds)."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is float or kind is int:
            if not 0 <= item < math.inf:  # NaN fails the comparison
                return False
        elif kind is dict:
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
        elif isinstance(item, Mapping):
            pending.extend(item.values())
    return True


def _walk_numbers(value: Any, path: str) -> list[Problem]:
    """finite-number and non-negative for every number inside a ``to_dict`` shape."""
    if _numbers_fine(value):
        return []
    return _number_problems(value, path)


def _number_problems(value: Any, path: str) -> list[Problem]:
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _number_problems(v, format_path([k], path))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _number_problems(v, format_path([i], path))]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    if not math.isfinite(value):
        return [Problem(path, "finite-number", f"{value} is not a finite number")]
    if value < 0:
        return [Problem(path, "non-negative", f"{value} is negative; it must be >= 0")]
    return []


def check_result(r: PerformanceTestResult, path: str = "") -> list[Problem]:
    """Every consistency problem of one result; ``path`` prefixes each field path."""

    def at(field: str) -> str:
        return f"{path}.{field}" if path else field

    problems = _walk_numbers(r.to_dict(), path)
    problems += _latency_problems(r, at)
    problems += _volume_problems(r, at)
    problems += _histogram_problems(r, at)
    problems += _time_problems(r, at)
    if r.role is not None and r.role not in ROLES:
        problems.append(
            Problem(at("role"), "roles-valid", f"role {r.role!r} is not one of {list(ROLES)}")
        )
    return problems


def _order_problems(lat: Latencies, field: str, at: _At) -> list[Problem]:
    problems: list[Problem] = []
    highest: tuple[str, float] | None = None
    for name in LATENCY_ORDER:
        value = _finite(getattr(lat, name))
        if value is None or value < 0:
            continue
        if highest is not None and value < highest[1] - _slack(highest[1]):
            problems.append(
                Problem(
                    at(f"{field}.{name}"),
                    "percentiles-ordered",
                    f"{name} ({value} ms) is below {highest[0]} ({highest[1]} ms); "
                    "expected min <= p50 <= p90 <= p95 <= p99 <= p999 <= max",
                )
            )
        if highest is None or value > highest[1]:
            highest = (name, value)
    return problems


def _latency_problems(r: PerformanceTestResult, at: _At) -> list[Problem]:
    lat = r.latencies_ms
    problems = _order_problems(lat, "latencies_ms", at)
    if r.latencies_ok_ms is not None:
        problems += _order_problems(r.latencies_ok_ms, "latencies_ok_ms", at)

    average, low, high = _finite(lat.average), _finite(lat.min), _finite(lat.max)
    if average is not None:
        if low is not None and average < low - _slack(low):
            problems.append(_average_problem(at, average, "below min", low))
        if high is not None and average > high + _slack(high):
            problems.append(_average_problem(at, average, "above max", high))

    seconds = latencies_look_like_seconds(lat)
    if seconds is not None:
        center, top = seconds
        problems.append(
            Problem(
                at("latencies_ms"),
                "latency-looks-like-seconds",
                f"the median is {center} ms and the highest figure {top} ms: no request "
                "round trip is that fast, so the values look like seconds; "
                "multiply by 1000?",
            )
        )
    return problems


def latencies_look_like_seconds(lat: Latencies) -> tuple[float, float] | None:
    """(median, highest figure) when they look like seconds written as ms, else None.

    The median is ``p50`` (``average`` without one), the highest figure ``max``
    (else the highest present); see SECONDS_P50_MS and SECONDS_MAX_MS.
    """
    center = _finite(lat.p50) if lat.p50 is not None else _finite(lat.average)
    top = next(
        (v for v in (_finite(getattr(lat, n)) for n in reversed(LATENCY_ORDER)) if v is not None),
        None,
    )
    if center is None or top is None:
        return None
    if center < SECONDS_P50_MS and 0 < top < SECONDS_MAX_MS:
        return center, top
    return None


def _average_problem(at: _At, average: float, where: str, bound: float) -> Problem:
    return Problem(
        at("latencies_ms.average"),
        "average-within-range",
        f"average ({average} ms) is {where} ({bound} ms)",
    )


def _volume_problems(r: PerformanceTestResult, at: _At) -> list[Problem]:
    problems: list[Problem] = []
    count = r.request_count if r.request_count is not None and r.request_count >= 0 else None
    qps, duration = _finite(r.actual_qps), _finite(r.duration_s)
    if count is not None and qps is not None and duration is not None and duration > 0:
        expected = qps * duration
        allowed = REQUEST_RATE_TOLERANCE * expected + REQUEST_RATE_SLACK
        if abs(count - expected) > allowed:
            problems.append(
                Problem(
                    at("request_count"),
                    "request-count-matches-rate",
                    f"{count} requests, but actual_qps x duration_s = {qps:g} x {duration:g} s "
                    f"= {expected:.1f} (allowed difference {allowed:.1f})",
                )
            )
    if count is not None and r.error_count is not None and r.error_count > count:
        problems.append(
            Problem(
                at("error_count"),
                "errors-within-requests",
                f"{r.error_count} errors out of {count} requests",
            )
        )
    codes = sum(r.status_codes.values())
    if count is not None and r.status_codes and codes > count:
        problems.append(
            Problem(
                at("status_codes"),
                "errors-within-requests",
                f"status codes count {codes} responses, more than the {count} requests",
            )
        )
    return problems


def _histogram_problems(r: PerformanceTestResult, at: _At) -> list[Problem]:
    if not r.histogram:
        return []
    # Non-finite edges are finite-number problems already; ordering them means nothing.
    if any(_finite(b.start_ms) is None or _finite(b.end_ms) is None for b in r.histogram):
        return []
    problems = [
        Problem(at(f"histogram[{index}]"), "histogram-buckets-valid", f"bucket {message}")
        for index, message in bucket_order_issues(r.histogram)
    ]
    if problems or any(b.count < 0 for b in r.histogram):
        return problems
    counted = total_count(r.histogram)
    if r.request_count is not None and r.request_count >= 0:
        if counted > r.request_count:
            problems.append(
                Problem(
                    at("histogram"),
                    "histogram-count-matches",
                    f"the histogram holds {counted} requests, more than request_count "
                    f"({r.request_count})",
                )
            )
        elif counted == 0 and r.request_count > 0:
            problems.append(
                Problem(
                    at("histogram"),
                    "histogram-count-matches",
                    f"the histogram holds no requests but request_count is {r.request_count}",
                )
            )
    if counted > 0:
        problems += _percentile_vs_histogram(r, at)
    return problems


def _percentile_vs_histogram(r: PerformanceTestResult, at: _At) -> list[Problem]:
    problems: list[Problem] = []
    for q, name in CHECKED_PERCENTILES:
        reported = _finite(getattr(r.latencies_ms, name))
        if reported is None:
            continue
        recomputed, bucket = locate_percentile(r.histogram, q)
        width = bucket.end_ms - bucket.start_ms
        allowed = max(width, PERCENTILE_TOLERANCE * max(abs(recomputed), abs(reported)))
        if abs(reported - recomputed) > allowed + _slack(recomputed):
            problems.append(
                Problem(
                    at(f"latencies_ms.{name}"),
                    "percentiles-match-histogram",
                    f"{name} is {reported} ms but the histogram gives {recomputed:.6g} ms "
                    f"(allowed difference {allowed:.3g} ms: the width of the bucket "
                    f"[{bucket.start_ms}, {bucket.end_ms}) or 5%)",
                )
            )
    return problems


def _aware(value: dt.datetime) -> dt.datetime:
    """Naive times are UTC, as the model writes them; mixing both must not raise."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _time_problems(r: PerformanceTestResult, at: _At) -> list[Problem]:
    if r.start_time is None or r.end_time is None:
        return []
    start, end = _aware(r.start_time), _aware(r.end_time)
    if end <= start:
        return [
            Problem(
                at("end_time"),
                "start-before-end",
                f"end_time {r.end_time.isoformat()} is not after start_time "
                f"{r.start_time.isoformat()}",
            )
        ]
    duration = _finite(r.duration_s)
    if duration is None or duration < 0:
        return []
    span = (end - start).total_seconds()
    allowed = DURATION_SLACK_S + DURATION_TOLERANCE * max(span, duration)
    if abs(span - duration) > allowed:
        return [
            Problem(
                at("duration_s"),
                "duration-matches-times",
                f"duration_s is {duration:g} s but end_time - start_time is {span:g} s "
                f"(allowed difference {allowed:.3g} s)",
            )
        ]
    return []


def check_bundle(b: Bundle) -> list[Problem]:
    """Every consistency problem of a bundle: its runs (``runs[i].``...) and how they fit."""
    problems: list[Problem] = []
    problems += _walk_numbers(dataclasses.asdict(b.environment), "environment")
    problems += _walk_numbers(dataclasses.asdict(b.mesh_config), "mesh_config")
    for index, run in enumerate(b.runs):
        problems += check_result(run, f"runs[{index}]")
    problems += _role_problems(b)
    problems += _profile_problems(b)
    mesh = b.mesh_config
    if mesh.mesh_type not in MESH_TYPES:
        problems.append(
            Problem(
                "mesh_config.mesh_type",
                "mesh-type-known",
                f"mesh type {mesh.mesh_type!r} is not one of {list(MESH_TYPES)}",
            )
        )
    if mesh.mtls_enabled and mesh.mesh_type == "none":
        problems.append(
            Problem(
                "mesh_config.mtls_enabled",
                "mtls-vs-mesh-none",
                "mtls_enabled is true but mesh_type is 'none': without a mesh there is no mTLS",
            )
        )
    return problems


def _role_problems(b: Bundle) -> list[Problem]:
    problems: list[Problem] = []
    baselines = [i for i, run in enumerate(b.runs) if run.role == "baseline"]
    meshes = [i for i, run in enumerate(b.runs) if run.role == "mesh"]
    for index, run in enumerate(b.runs):
        if run.role is None:
            problems.append(
                Problem(
                    f"runs[{index}].role",
                    "roles-valid",
                    "every run of a bundle needs a role: 'baseline' (no mesh) or 'mesh'",
                )
            )
    if b.mesh_config.mesh_type == "none":
        problems += [
            Problem(
                f"runs[{index}].role",
                "roles-valid",
                "a mesh run needs mesh_config.mesh_type to name the mesh, not 'none'",
            )
            for index in meshes
        ]
    if not baselines:
        problems.append(
            Problem(
                "runs",
                "baseline-missing",
                "no baseline run: mesh runs cannot be scored until one is paired with them",
            )
        )
    elif len(baselines) > 1:
        # Interleaved pairs (smp-runner --repeat): each baseline opens its pair, so the
        # runs start with one and no baseline is left without a mesh run after it.
        if baselines[0] != 0:
            problems.append(
                Problem(
                    "runs[0].role",
                    "baseline-interleaved",
                    f"a bundle with {len(baselines)} baseline runs interleaves its pairs "
                    "(baseline, mesh, baseline, mesh, ...): runs[0] must be a baseline, "
                    f"found role {b.runs[0].role!r}",
                )
            )
        ends = [*baselines[1:], len(b.runs)]
        for start, end in zip(baselines, ends, strict=True):
            if not any(b.runs[i].role == "mesh" for i in range(start + 1, end)):
                problems.append(
                    Problem(
                        f"runs[{start}].role",
                        "baseline-interleaved",
                        f"the baseline runs[{start}] is followed by no mesh run before the "
                        "next baseline: with several baselines, each opens a pair "
                        "(baseline, mesh, baseline, mesh, ...)",
                    )
                )
    if not meshes:
        problems.append(
            Problem("runs", "mesh-run-present", "a bundle needs at least one run with role 'mesh'")
        )
    return problems


def _profile_problems(b: Bundle) -> list[Problem]:
    problems: list[Problem] = []
    expected, source = b.profile, "the bundle's profile"
    for index, run in enumerate(b.runs):
        if run.profile_id is None:
            continue
        if expected is None:
            expected, source = run.profile_id, f"runs[{index}].profile_id"
        elif run.profile_id != expected:
            problems.append(
                Problem(
                    f"runs[{index}].profile_id",
                    "profile-consistent",
                    f"profile_id {run.profile_id!r} differs from {source} ({expected!r})",
                )
            )
    return problems
