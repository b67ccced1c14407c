"""HdrHistogram interval logs (``.hlog``: jHiccup, wrk2 forks, HdrHistogram log writers).

Format: ``#`` comment lines (``#[StartTime: s ...]``, ``#[BaseTime: s ...]``,
``#[MaxValueDivisor: d]``), a legend line, then one line per interval:
``[Tag=name,]start_s,length_s,max,HIST...`` where ``HIST...`` is a base64
compressed V2 histogram and ``max`` is the interval's max divided by the
writer's max-value divisor.

Method: all intervals with the same tag are added into one HDR histogram
(exact), so a tagged log gives one result per tag, untagged first, each with
the label ``hdr_tag``. Latencies come from the merged histogram: min and max
are the edges of its first and last non-empty bucket, percentiles HDR's
highest-equivalent values, average HDR's mean of bucket midpoints. The
explicit histogram groups HDR buckets on a log scale into at most
:data:`MAX_BUCKETS`. ``request_count`` is the number of recorded values
(for jHiccup these are hiccup samples, not requests), ``duration_s`` runs from
the first interval's start to the last interval's end, and ``actual_qps`` is
the count over the duration.

Units: HDR histograms hold integers in the recorder's unit. The log's max
column is, by the writers' convention, in milliseconds (HdrHistogram's default
divisor 1e6 turns nanoseconds into ms). The unit is therefore taken from
``#[MaxValueDivisor]`` when present, otherwise inferred from the ratio of the
histogram's max to the max column (1 = ms, 1e3 = us, 1e6 = ns); a log whose
max column is 0 everywhere is assumed to record nanoseconds.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from smp.errors import ReaderError
from smp.histogram import (
    HistogramError,
    buckets_from_hdr,
    decode_hdr,
    hdr_extremes,
    merge_hdr_histograms,
)
from smp.loaders import decode_text
from smp.model import Latencies, LoadGenerator, PerformanceTestResult

NAME = "hdrlog"
LOAD_GENERATOR = "hdrhistogram-log"
MAX_BUCKETS = 200
MAX_INTERVALS = 100_000
"""More intervals than this is not a single test run; refuse rather than grind."""
MAX_COUNTS = 1 << 22
"""Counters one interval histogram may have (32 MiB of 8-byte counts): 1 ns .. 1 h at
3 significant figures needs 44,032."""

UNITS_PER_MS: dict[str, float] = {"ms": 1.0, "us": 1e3, "ns": 1e6}
DEFAULT_UNIT = "ns"
"""Assumed when the log gives no way to tell: HdrHistogram writers divide by 1e6 by default."""

_RELATIVE_IF_BEFORE_S = 365 * 24 * 3600.0
"""As the reference readers: timestamps a year before StartTime are relative to it."""
_EPOCH_2001 = 1e9
"""Without headers, a timestamp below this (2001-09-09) is taken as relative."""

_HEADER = re.compile(r"^#\[(?P<key>StartTime|BaseTime|MaxValueDivisor): *(?P<value>[0-9.eE+-]+)")
_FORMAT = re.compile(r"^#\[Histogram log format version (?P<version>[^\]]+)\]")
_DATA_LINE = re.compile(r"^(?:Tag=[^,]*,)?[0-9.]+,[0-9.]+,[0-9.]+,HIST", re.MULTILINE)


@dataclass
class _Interval:
    """One interval line, without its histogram (folded into its tag's total on reading)."""

    line: int
    tag: str | None
    start_s: float
    length_s: float
    max_column: float
    max_value: int
    """The interval histogram's max, in recorded units (its highest equivalent value)."""


@dataclass
class _Log:
    headers: dict[str, float] = field(default_factory=dict)
    format_version: str | None = None
    intervals: list[_Interval] = field(default_factory=list)
    totals: dict[str | None, Any] = field(default_factory=dict)
    """Per tag, the sum of its interval histograms; tags in order of appearance."""


def sniff(data: bytes) -> bool:
    """The log-format comment, the CSV legend, or an interval line near the top."""
    head = data[:4096].decode("utf-8", errors="replace")
    return (
        "#[Histogram log format version" in head
        or '"StartTimestamp","Interval_Length"' in head
        or _DATA_LINE.search(head) is not None
    )


def _number(text: str, line: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ReaderError(NAME, f"line {line}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ReaderError(NAME, f"line {line}: {what} {text!r} must be a finite number >= 0")
    return value


def _parse(text: str) -> _Log:
    log = _Log()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith('"StartTimestamp"'):
            continue
        if line.startswith("#"):
            header = _HEADER.match(line)
            if header:
                log.headers[header["key"]] = _number(header["value"], number, header["key"])
            version = _FORMAT.match(line)
            if version:
                log.format_version = version["version"].strip()
            continue
        log.intervals.append(_interval(log, line, number))
        if len(log.intervals) > MAX_INTERVALS:
            raise ReaderError(NAME, f"more than {MAX_INTERVALS} intervals; split the log")
    if not log.intervals:
        raise ReaderError(NAME, "the log holds no interval histograms")
    return log


def _interval(log: _Log, line: str, number: int) -> _Interval:
    """Parse one interval line and add its histogram to its tag's total."""
    tag = None
    if line.startswith("Tag="):
        tag, _, line = line[4:].partition(",")
    fields = line.split(",")
    if len(fields) != 4:
        raise ReaderError(
            NAME,
            f"line {number}: expected [Tag=name,]start,length,max,histogram; "
            f"found {len(fields)} fields",
        )
    start_s = _number(fields[0], number, "start timestamp")
    length_s = _number(fields[1], number, "interval length")
    max_column = _number(fields[2], number, "interval max")
    try:
        histogram = decode_hdr(fields[3])
    except HistogramError as exc:
        raise ReaderError(NAME, f"line {number}: {exc}") from None
    if histogram.counts_len > MAX_COUNTS:
        raise ReaderError(
            NAME, f"line {number}: the histogram has {histogram.counts_len} counters, too many"
        )
    total = log.totals.get(tag)
    if total is None:
        log.totals[tag] = merge_hdr_histograms([histogram])
    else:
        try:
            total.add(histogram)
        except IndexError:
            raise ReaderError(
                NAME,
                f"line {number}: the histogram's range exceeds that of the tag's first "
                "interval; every interval of a tag must use the same histogram settings",
            ) from None
    return _Interval(number, tag, start_s, length_s, max_column, int(histogram.get_max_value()))


def _value_unit(log: _Log) -> tuple[str, float]:
    """(unit name, recorded units per millisecond); see the module docstring."""
    divisor = log.headers.get("MaxValueDivisor")
    if divisor is not None and divisor > 0:
        name = next((n for n, u in UNITS_PER_MS.items() if u == divisor), f"1/{divisor:g} ms")
        return name, divisor
    with_max = [i for i in log.intervals if i.max_column > 0 and i.max_value > 0]
    if not with_max:
        return DEFAULT_UNIT, UNITS_PER_MS[DEFAULT_UNIT]
    widest = max(with_max, key=lambda i: i.max_column)
    ratio = widest.max_value / widest.max_column
    name, units = min(UNITS_PER_MS.items(), key=lambda item: abs(math.log10(ratio / item[1])))
    if abs(math.log10(ratio / units)) > math.log10(2):
        raise ReaderError(
            NAME,
            f"line {widest.line}: cannot tell the value unit: the histogram's max is "
            f"{ratio:g} times the max column, not 1 (ms), 1e3 (us) or 1e6 (ns)",
        )
    return name, units


def _time_base(log: _Log) -> float | None:
    """Seconds to add to a log timestamp to make it absolute, or None if unknown."""
    first = log.intervals[0].start_s
    if "BaseTime" in log.headers:
        return log.headers["BaseTime"]
    if "StartTime" in log.headers:
        start = log.headers["StartTime"]
        return start if first < start - _RELATIVE_IF_BEFORE_S else 0.0
    return 0.0 if first >= _EPOCH_2001 else None


def _utc(seconds: float) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise ReaderError(
            NAME, f"timestamp {seconds:g} s since the epoch is out of range"
        ) from None


def _result(log: _Log, tag: str | None, unit: tuple[str, float]) -> PerformanceTestResult | None:
    intervals = [i for i in log.intervals if i.tag == tag]
    merged = log.totals[tag]
    count = int(merged.get_total_count())
    if count == 0:
        return None
    unit_name, per_ms = unit
    low, high = hdr_extremes(merged)
    pct = merged.get_percentile_to_value_dict([50.0, 90.0, 95.0, 99.0, 99.9])
    latencies = Latencies(
        min=low / per_ms,
        average=float(merged.get_mean_value()) / per_ms,
        p50=pct[50.0] / per_ms,
        p90=pct[90.0] / per_ms,
        p95=pct[95.0] / per_ms,
        p99=pct[99.0] / per_ms,
        p999=pct[99.9] / per_ms,
        max=high / per_ms,
    )
    first = min(i.start_s for i in intervals)
    last = max(i.start_s + i.length_s for i in intervals)
    duration = last - first if last > first else None
    base = _time_base(log)
    labels = {"hdr_value_unit": unit_name}
    if tag is not None:
        labels["hdr_tag"] = tag
    if log.format_version:
        labels["hdr_log_format"] = log.format_version
    return PerformanceTestResult(
        latencies_ms=latencies,
        actual_qps=count / duration if duration else None,
        start_time=_utc(first + base) if base is not None else None,
        end_time=_utc(last + base) if base is not None else None,
        duration_s=duration,
        request_count=count,
        histogram=buckets_from_hdr(merged, MAX_BUCKETS, units_per_ms=per_ms),
        load_generator=LoadGenerator(name=LOAD_GENERATOR),
        labels=labels,
    )


def read(data: bytes) -> list[PerformanceTestResult]:
    """One result per tag (untagged first), each merging all of that tag's intervals."""
    log = _parse(decode_text(data, NAME))
    unit = _value_unit(log)
    tags = sorted(log.totals, key=lambda t: t is not None)
    results = [r for r in (_result(log, tag, unit) for tag in tags) if r is not None]
    if not results:
        raise ReaderError(NAME, "every interval histogram is empty")
    return results
