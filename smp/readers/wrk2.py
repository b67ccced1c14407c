"""wrk2 text output (constant-throughput HTTP load generator, giltene/wrk2).

Method: the text is parsed line by line (:mod:`smp.readers._wrktext`). With
``--latency`` wrk2 prints an HdrHistogram block for the *corrected* ("Recorded
Latency") histogram, which measures each request from when it should have been
sent; ``-U`` adds a block for the "Uncorrected Latency". The corrected one is
what ``latencies_ms`` holds; the uncorrected p50/p90/p99/p99.9/max go to labels
``wrk2.uncorrected.<field>`` (ms, as text).

Mapping (corrected block): ``p50``/``p90``/``p99``/``p999`` from the printed
50/90/99/99.9% lines; ``p95`` (and ``p999`` if not printed) from the first
"Detailed Percentile spectrum" row whose percentile is >= q; ``min`` is the
first spectrum Value, ``max`` and ``average`` the ``#[Max`` and ``#[Mean``
summary figures; ``histogram`` turns consecutive spectrum rows into buckets
(start = previous Value, end = Value, count = TotalCount difference; the first
row is a zero-width bucket at the minimum). HdrHistogram prints each value as
its bucket's upper bound, which can exceed the exact ``#[Max``; such values
(percentiles, bucket ends) are clamped to the max. Without ``--latency`` only
the Thread Stats average and max are known.

Counts: the histogram covers only the time after the calibration phase, so
its total (label ``wrk2.histogram_total_count``) is below "N requests in";
``request_count`` is the "N requests in" figure. ``error_count`` is socket
errors + "Non-2xx or 3xx responses" (status > 399); there is no per-status
breakdown. The ``-R`` rate is not printed, so ``requested_qps`` stays None.
"""

from __future__ import annotations

from smp.errors import ReaderError
from smp.model import HistogramBucket, Latencies, PerformanceTestResult
from smp.readers._wrktext import HdrBlock, SpectrumRow, WrkRun, base_result, looks_like_wrk, parse

NAME = "wrk2"

_PRINTED_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}
_SPECTRUM_PERCENTILES = {"p95": 0.95, "p999": 0.999}


def sniff(data: bytes) -> bool:
    """wrk-shaped text with a wrk2 marker (calibration, HdrHistogram, spectrum)."""
    shaped, wrk2_markers = looks_like_wrk(data)
    return shaped and wrk2_markers


def _from_spectrum(rows: list[SpectrumRow], fraction: float) -> float | None:
    """Value of the first spectrum row whose percentile (0..1) is >= ``fraction``."""
    for row in rows:
        if row.fraction >= fraction:
            return row.value_ms
    return None


def _buckets(rows: list[SpectrumRow], top: float | None) -> list[HistogramBucket]:
    buckets = []
    previous_value, previous_count = rows[0].value_ms, 0
    for row in rows:
        count = row.total_count - previous_count
        end = row.value_ms if top is None else min(row.value_ms, top)
        if count > 0:
            buckets.append(HistogramBucket(min(previous_value, end), end, count))
        previous_value, previous_count = end, row.total_count
    return buckets


def _latencies(block: HdrBlock) -> Latencies:
    values = {key: block.percentiles.get(p) for key, p in _PRINTED_PERCENTILES.items()}
    for key, fraction in _SPECTRUM_PERCENTILES.items():
        if values.get(key) is None:
            values[key] = _from_spectrum(block.spectrum, fraction)
    top = block.max_ms
    clamped = {k: _clamp(v, top) for k, v in values.items()}
    return Latencies(
        min=_clamp(block.spectrum[0].value_ms, top),
        average=block.mean_ms,
        max=top,
        **clamped,
    )


def _clamp(value: float | None, top: float | None) -> float | None:
    """HdrHistogram prints a bucket's upper bound, which may exceed the exact max."""
    if value is None or top is None:
        return value
    return min(value, top)


def _result(run: WrkRun) -> PerformanceTestResult:
    if not (run.hdr_blocks or run.calibration_lines):
        raise ReaderError(
            NAME,
            "no wrk2 marker ('Thread calibration' or HdrHistogram lines); "
            "this looks like wrk output - read it with the wrk reader",
        )
    result = base_result(run, NAME)
    recorded = [b for b in run.hdr_blocks if b.corrected]
    uncorrected = [b for b in run.hdr_blocks if b.description.startswith("Uncorrected")]
    if recorded:
        block = recorded[0]
        result.latencies_ms = _latencies(block)
        result.histogram = _buckets(block.spectrum, block.max_ms)
        result.labels[f"{NAME}.histogram_total_count"] = str(block.total_count)
    else:
        result.latencies_ms = Latencies(average=run.latency_avg_ms, max=run.latency_max_ms)
    if uncorrected:
        raw = _latencies(uncorrected[0]).as_dict()
        for key in ("p50", "p90", "p99", "p999", "max"):
            if key in raw:
                result.labels[f"{NAME}.uncorrected.{key}"] = str(raw[key])
    return result


def read(data: bytes) -> list[PerformanceTestResult]:
    """One result per wrk2 run in ``data``; raises ReaderError on incomplete output."""
    return [_result(run) for run in parse(data, NAME)]
