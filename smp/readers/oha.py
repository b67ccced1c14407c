"""oha text summary (ANSI colours allowed) and ``--json`` output (HTTP load generator, hatoo/oha).

oha is the Rust successor of hey; its report looks like hey's but is not the
same. Both shapes are read, told apart by content.

**Text** (the default report, with or without the colour codes oha writes to a
terminal). Times are printed with 4 decimals in a unit oha names on each line:
``secs`` up to 1.4.x, then an automatic or ``-u`` scale (``ns``, ``us``,
``ms``, ``sec``, ``10 sec``, ``min``, ``10 min``, ``hr``); all become ms.
``latencies_ms``: ``min`` = Fastest, ``max`` = Slowest, ``average`` =
Average (all three over the requests that got a response), ``p50``, ``p90``,
``p95``, ``p99`` and ``p999`` from "Response time distribution" (oha takes
the value at index floor(q * n) of the sorted response times: no
interpolation). ``actual_qps`` = Requests/sec, ``duration_s`` = Total,
``status_codes`` from "Status code distribution". "Error distribution" rows are
requests that got no response (``[1] timeout``): they count in
``request_count`` (oha's Requests/sec counts them too) and in ``error_count``,
except ``aborted due to deadline``, the requests a ``-z`` run cut off at its
end, which oha leaves out of its success rate and so do we (kept in the label
``oha.aborted_by_deadline``). ``error_count`` also counts responses whose
status is not 2xx/3xx. The histogram is oha's 11 bins: bin *i* holds the
times in (mark[i-1], mark[i]], the first one only the fastest, so a bucket
starts at the previous mark and the first has zero width; marks are printed
with 3 decimals and refined as in the hey reader (the marks are Fastest +
i * (Slowest - Fastest) / 10, clamped to what the printed mark allows). The
sections of ``--stats-success-breakdown`` (2xx only, 4xx + 5xx only), Details,
Total data, Size/request and Size/sec are not figures of the model and are
skipped; oha up to 1.4.1 truncated Size/request to two characters ("4."),
which is why it is never read. Lines before "Summary:" and after the report
(a wrapper script's "Started at ..." / "Finished at ...") are ignored.

**JSON** (``--json``, later ``--output-format json``; schema.json in oha's
repository): ``summary`` (seconds; ``successRate`` a fraction),
``latencyPercentiles`` (``p10`` ... ``p99.99``, seconds),
``responseTimeHistogram`` (bin mark in seconds -> count, same bins as the
text), ``statusCodeDistribution`` and ``errorDistribution``, mapped as above
but at full precision. serde writes NaN (no response at all) as ``null``,
which is read as "not measured".

What oha does not report: the number of connections (``-c``) and the
requested rate (``-q``); ``requested_qps`` and ``connections`` stay unknown.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from smp.errors import ReaderError
from smp.loaders import decode_text, load_json
from smp.model import HistogramBucket, Latencies, LoadGenerator, PerformanceTestResult
from smp.readers._fields import Fields

NAME = "oha"

DEADLINE_ERROR = "aborted due to deadline"
"""oha's message for requests a ``-z`` run cut off; not failures of the server."""

# CSI sequences (colours, bold, underline) that oha writes to a terminal.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
# Unit names oha prints after a time, in ms (TimeScale's Display; "secs" up to 1.4.x).
_UNIT_MS: dict[str, float] = {
    "ns": 1e-6,
    "us": 1e-3,
    "ms": 1.0,
    "sec": 1e3,
    "secs": 1e3,
    "10 sec": 1e4,
    "min": 6e4,
    "10 min": 6e5,
    "hr": 3.6e6,
}
_UNIT = r"(?P<unit>10 sec|10 min|secs|sec|min|hr|ms|us|ns)"
_NUMBER = r"(?P<value>NaN|-?inf|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"

SUMMARY_HEADER = re.compile(r"^Summary:\s*$")
SUCCESS_RATE = re.compile(r"^\s+Success rate:\s+(?P<value>\S+?)%?\s*$")
TIME_FIELD = re.compile(rf"^\s+(?P<name>Total|Slowest|Fastest|Average):\s+{_NUMBER} {_UNIT}\s*$")
RPS_FIELD = re.compile(rf"^\s+Requests/sec:\s+{_NUMBER}\s*$")
SIZE_FIELD = re.compile(r"^\s+(?:Total data|Size/request|Size/sec):\s+.*$")
SECTION_HEADER = re.compile(
    r"^(?P<name>Response time histogram|Response time distribution|"
    r"Details \(average, fastest, slowest\)|Status code distribution|Error distribution)"
    r"(?P<only> \((?:2xx only|4xx \+ 5xx only)\))?:\s*$"
)
# "  0.182 [1]      |■■" (up to 1.4.x) or "  0.182 sec [1] |" (later): mark and count
HISTOGRAM_ROW = re.compile(rf"^\s+{_NUMBER}(?: {_UNIT})? \[(?P<count>\d+)\]\s*\|.*$")
# "  50.00% in 0.8319 secs"
DISTRIBUTION_ROW = re.compile(rf"^\s+(?P<percent>\d+(?:\.\d+)?)% in {_NUMBER} {_UNIT}\s*$")
DETAILS_ROW = re.compile(r"^\s+[A-Za-z+\- ]+:\s+\S+ [a-z0-9 ]+, \S+ [a-z0-9 ]+, \S+ [a-z0-9 ]+$")
STATUS_ROW = re.compile(r"^\s+\[(?P<code>\d{3})\]\s+(?P<count>\d+) responses\s*$")
ERROR_ROW = re.compile(r"^\s+\[(?P<count>\d+)\]\s+(?P<message>\S.*?)\s*$")

_PERCENTILES: dict[str, str] = {
    "50": "p50",
    "90": "p90",
    "95": "p95",
    "99": "p99",
    "99.9": "p999",
}
_SECTION_ROWS: dict[str, re.Pattern[str]] = {
    "Response time histogram": HISTOGRAM_ROW,
    "Response time distribution": DISTRIBUTION_ROW,
    "Details (average, fastest, slowest)": DETAILS_ROW,
    "Status code distribution": STATUS_ROW,
    "Error distribution": ERROR_ROW,
}


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences (oha colours its report on a terminal)."""
    return _ANSI.sub("", text)


def sniff(data: bytes) -> bool:
    """oha's "Summary:" followed by "Success rate:", or its JSON summary object."""
    head = data[:8192].decode("utf-8", errors="replace").lstrip("\ufeff")
    if head.lstrip().startswith("{"):
        return b'"successRate"' in data[:65536] and b'"latencyPercentiles"' in data
    lines = [line for line in strip_ansi(head).splitlines() if line.strip()]
    for first, second in itertools.pairwise(lines):
        if SUMMARY_HEADER.match(first) and SUCCESS_RATE.match(second):
            return True
    return False


def read(data: bytes) -> list[PerformanceTestResult]:
    """One result from an oha text report or JSON summary; raises ReaderError."""
    text = decode_text(data, NAME)
    if text.lstrip().startswith("{"):
        return [_read_json(text)]
    return [_read_text(strip_ansi(text))]


def _ms(value: float, unit: str = "secs") -> float:
    return round(value * _UNIT_MS[unit], 6)


def _is_error_status(code: int) -> bool:
    return not 200 <= code <= 399


@dataclass
class _Counts:
    """Responses by status and requests without a response, by oha's message."""

    status_codes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def request_count(self) -> int:
        return sum(self.status_codes.values()) + sum(self.errors.values())

    def error_count(self) -> int:
        bad_status = sum(n for code, n in self.status_codes.items() if _is_error_status(int(code)))
        failed = sum(n for message, n in self.errors.items() if message != DEADLINE_ERROR)
        return bad_status + failed

    def labels(self, output: str) -> dict[str, str]:
        labels = {"oha.output": output}
        if self.errors.get(DEADLINE_ERROR):
            labels["oha.aborted_by_deadline"] = str(self.errors[DEADLINE_ERROR])
        return labels


def _result(
    figures: dict[str, float | None],
    percentiles: dict[str, float],
    histogram: list[HistogramBucket],
    counts: _Counts,
    output: str,
) -> PerformanceTestResult:
    return PerformanceTestResult(
        latencies_ms=Latencies(
            min=figures["Fastest"],
            average=figures["Average"],
            max=figures["Slowest"],
            **percentiles,
        ),
        actual_qps=figures["Requests/sec"],
        duration_s=figures["Total"],
        request_count=counts.request_count(),
        error_count=counts.error_count(),
        status_codes=dict(counts.status_codes),
        histogram=histogram,
        load_generator=LoadGenerator(name=NAME),
        protocol="http",
        labels=counts.labels(output),
    )


# --- text ----------------------------------------------------------------------------------


def _number(text: str, what: str) -> float | None:
    """A printed figure; None for oha's ``NaN`` (nothing measured), error if infinite."""
    value = float(text)
    if math.isnan(value):
        return None
    if math.isinf(value):
        raise ReaderError(NAME, f"{what} is {text!r}; it must be a finite number")
    return value


@dataclass
class _TextReport:
    figures: dict[str, float | None] = field(default_factory=dict)
    rows: dict[str, list[re.Match[str]]] = field(
        default_factory=lambda: {name: [] for name in _SECTION_ROWS}
    )
    seen: set[str] = field(default_factory=set)


def _parse_text(text: str) -> _TextReport:
    report = _TextReport()
    section: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if SUMMARY_HEADER.match(line):
            if "Summary" in report.seen:
                raise ReaderError(NAME, f"line {number}: a second 'Summary:'; one report a file")
            section = "Summary"
            report.seen.add(section)
        elif section is None:
            continue  # before the report: a wrapper's own lines
        elif header := SECTION_HEADER.match(line):
            # The success breakdown sections repeat the overall ones for a subset: skipped.
            section = "" if header.group("only") else header.group("name")
            report.seen.add(section)
        elif not line[:1].isspace():
            section = None  # the report ended; what follows is not oha's ("Finished at")
        elif section == "Summary":
            _summary_line(line, number, report.figures)
        elif section:
            if not (m := _SECTION_ROWS[section].match(line)):
                raise ReaderError(
                    NAME, f"line {number}: malformed {section!r} line: {line.strip()!r}"
                )
            report.rows[section].append(m)
    return report


def _summary_line(line: str, number: int, figures: dict[str, float | None]) -> None:
    if m := TIME_FIELD.match(line):
        value = _number(m.group("value"), f"line {number}: {m['name']}")
        if value is not None:
            value = _ms(value, m.group("unit"))
            # Total is the run's duration, kept in seconds; the others are latencies.
            value = value / 1e3 if m["name"] == "Total" else value
        figures[m["name"]] = value
    elif m := RPS_FIELD.match(line):
        figures["Requests/sec"] = _number(m.group("value"), f"line {number}: Requests/sec")
    elif not (SUCCESS_RATE.match(line) or SIZE_FIELD.match(line)):
        raise ReaderError(NAME, f"line {number}: unexpected Summary line {line.strip()!r}")


def _read_text(text: str) -> PerformanceTestResult:
    report = _parse_text(text)
    if "Summary" not in report.seen:
        raise ReaderError(NAME, "no 'Summary:' line; is this oha's report?")
    for name in ("Total", "Slowest", "Fastest", "Average", "Requests/sec"):
        if name not in report.figures:
            raise ReaderError(NAME, f"Summary {name!r} line is missing; is this oha's report?")
    if "Status code distribution" not in report.seen:
        raise ReaderError(
            NAME, "'Status code distribution:' section is missing; is the report complete?"
        )
    percentiles: dict[str, float] = {}
    for m in report.rows["Response time distribution"]:
        key = _PERCENTILES.get(_percent_key(m.group("percent")))
        value = _number(m.group("value"), f"{m.group('percent')}% response time")
        if key and value is not None:
            percentiles[key] = _ms(value, m.group("unit"))
    counts = _Counts()
    for m in report.rows["Status code distribution"]:
        counts.status_codes[m.group("code")] += int(m.group("count"))
    for m in report.rows["Error distribution"]:
        counts.errors[m.group("message")] += int(m.group("count"))
    histogram = _text_histogram(report.rows["Response time histogram"], report.figures)
    return _result(report.figures, percentiles, histogram, counts, "text")


def _percent_key(text: str) -> str:
    """``"99.90"`` -> ``"99.9"``, ``"50.00"`` -> ``"50"``: the percentile as oha means it."""
    return f"{float(text):g}"


def _text_histogram(
    rows: list[re.Match[str]], figures: dict[str, float | None]
) -> list[HistogramBucket]:
    """Buckets from the printed marks (in ms), refined as the module docstring says."""
    marks: list[float] = []
    for m in rows:
        value = _number(m.group("value"), "histogram mark")
        if value is None:
            return []  # no response at all: oha prints no usable bins
        # Up to 1.4.x the marks carry no unit and are seconds.
        marks.append(value * _UNIT_MS[m.group("unit") or "secs"])
    counts = [int(m.group("count")) for m in rows]
    fastest, slowest = figures.get("Fastest"), figures.get("Slowest")
    if len(marks) == 11 and fastest is not None and slowest is not None and slowest >= fastest:
        # Half a unit of the mark's last printed digit (3 decimals).
        half = [0.0005 * _UNIT_MS[m.group("unit") or "secs"] for m in rows]
        step = (slowest - fastest) / 10
        estimates = [fastest + step * i for i in range(10)] + [slowest]
        marks = [
            min(max(e, mark - h), mark + h)
            for e, mark, h in zip(estimates, marks, half, strict=True)
        ]
    return _buckets(marks, counts)


def _buckets(marks: list[float], counts: list[int]) -> list[HistogramBucket]:
    """oha's bins as buckets: bin i holds (mark[i-1], mark[i]], the first one only its mark."""
    if any(b < a for a, b in itertools.pairwise(marks)):
        raise ReaderError(NAME, "the response time histogram's marks must not decrease")
    buckets: list[HistogramBucket] = []
    previous = marks[0] if marks else 0.0
    for mark, count in zip(marks, counts, strict=True):
        if count > 0:
            buckets.append(HistogramBucket(round(previous, 6), round(mark, 6), count))
        previous = mark
    return buckets


# --- JSON ----------------------------------------------------------------------------------


def _seconds(fields: Fields, key: str) -> float | None:
    """A figure in seconds (null = NaN for oha) as ms."""
    if not fields.has(key):
        return None
    return _ms(fields.need_number(key))


def _read_json(text: str) -> PerformanceTestResult:
    doc = load_json(text, NAME)
    top = Fields(doc, "", NAME)
    summary = top.child("summary")
    if summary is None:
        raise ReaderError(NAME, "summary is missing; is this oha's JSON output?")
    figures: dict[str, float | None] = {
        "Total": summary.number("total"),
        "Slowest": _seconds(summary, "slowest"),
        "Fastest": _seconds(summary, "fastest"),
        "Average": _seconds(summary, "average"),
        "Requests/sec": summary.number("requestsPerSec"),
    }
    percentiles: dict[str, float] = {}
    table = top.child("latencyPercentiles")
    if table is not None:
        for name, key in _PERCENTILES.items():
            value = _seconds(table, f"p{name}")
            if value is not None:
                percentiles[key] = value
    counts = _Counts()
    for code, count in _count_map(top, "statusCodeDistribution").items():
        if not (code.isdigit() and len(code) == 3):
            top.fail("statusCodeDistribution", f"key {code!r} is not an HTTP status code")
        counts.status_codes[code] += count
    counts.errors.update(_count_map(top, "errorDistribution"))
    return _result(figures, percentiles, _json_histogram(top), counts, "json")


def _count_map(top: Fields, key: str) -> dict[str, int]:
    table = top.child(key)
    if table is None:
        return {}
    return {name: table.need_count(name) for name in table.obj}


def _json_histogram(top: Fields) -> list[HistogramBucket]:
    table = top.child("responseTimeHistogram")
    if table is None:
        return []
    bins: list[tuple[float, int]] = []
    for label in table.obj:
        try:
            mark = float(label)
        except ValueError:
            mark = -1.0
        count = table.need_count(label)
        if math.isnan(mark) and count == 0:
            continue  # no response at all: oha labels its empty bins NaN
        if not math.isfinite(mark) or mark < 0:
            top.fail("responseTimeHistogram", f"key {label!r} is not a time in seconds")
        bins.append((_ms(mark), count))
    bins.sort()
    return _buckets([mark for mark, _ in bins], [count for _, count in bins])
