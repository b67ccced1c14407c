"""wrk 4.x text output (closed-loop HTTP load generator).

Method: the text is parsed line by line (:mod:`smp.readers._wrktext`); durations
are read with their printed unit (us, ms, s, m, h) and converted to ms.

Mapping: ``latencies_ms.average`` and ``.max`` come from the "Thread Stats"
Latency row; ``p50``/``p90``/``p99`` from the ``--latency`` "Latency
Distribution" block when present (its p75 is dropped); ``actual_qps`` is
"Requests/sec"; ``duration_s`` and ``request_count`` come from "N requests in
T"; ``error_count`` is socket errors + "Non-2xx or 3xx responses".

What wrk does not print: the minimum latency, p95 and p99.9, a histogram, the
per-status breakdown (only the count of status > 399) and a requested rate
(wrk is closed-loop, so its latencies also suffer coordinated omission).
Concatenated outputs yield one result per "Running ... test @" line.
"""

from __future__ import annotations

from smp.errors import ReaderError
from smp.model import Latencies, PerformanceTestResult
from smp.readers._wrktext import WrkRun, base_result, looks_like_wrk, parse

NAME = "wrk"


def sniff(data: bytes) -> bool:
    """wrk's "Running ... test @" and "N threads and M connections" lines, no wrk2 markers."""
    shaped, wrk2_markers = looks_like_wrk(data)
    return shaped and not wrk2_markers


def _result(run: WrkRun) -> PerformanceTestResult:
    if run.hdr_blocks or run.calibration_lines:
        raise ReaderError(
            NAME,
            "this is wrk2 output (it has 'Thread calibration' or HdrHistogram lines); "
            "read it with the wrk2 reader",
        )
    result = base_result(run, NAME)
    result.latencies_ms = Latencies(
        average=run.latency_avg_ms,
        p50=run.distribution.get(50.0),
        p90=run.distribution.get(90.0),
        p99=run.distribution.get(99.0),
        max=run.latency_max_ms,
    )
    return result


def read(data: bytes) -> list[PerformanceTestResult]:
    """One result per wrk run in ``data``; raises ReaderError on incomplete output."""
    return [_result(run) for run in parse(data, NAME)]
