"""hey text summary and ``hey -o csv`` output (HTTP load generator, rakyll/hey).

Two shapes, told apart by content:

**Summary** (default output). All times are printed in seconds with 4 decimals
and converted to ms. ``latencies_ms``: ``min`` = Fastest, ``max`` = Slowest,
``average`` = Average, ``p50``/``p90``/``p95``/``p99`` from "Latency
distribution" (hey prints 10/25/50/75/90/95/99%, no p99.9; rows hey leaves
empty as "0% in 0.0000 secs" are skipped). ``actual_qps`` = Requests/sec,
``duration_s`` = Total, ``status_codes`` from "Status code distribution",
``request_count`` = responses + transport errors ("Error distribution"),
``error_count`` = transport errors + responses whose status is not 2xx/3xx.
``histogram`` comes from "Response time histogram": hey counts in bucket *i*
the latencies in (mark[i-1], mark[i]], its first bucket holding only the
fastest; so a bucket starts at the previous mark and the first one has zero
width. hey prints the marks with 3 decimals (1 ms); when there are 11 of them
each mark is recomputed with hey's own rule (Fastest + i*(Slowest-Fastest)/10,
last = Slowest) from the 4-decimal Summary figures and clamped to the
+-0.5 ms interval the printed mark allows, which gives 0.1 ms resolution.

**CSV** (``-o csv``: response-time, DNS+dialup, DNS, Request-write,
Response-delay, Response-read, status-code, offset; seconds). It lists only
requests that got a response (transport errors are absent, so they are
neither in ``request_count`` nor in ``error_count``). Percentiles are exact
nearest-rank over the rows (the value at rank ceil(q*n), 1-based); p99.9 is
reported only with >= 1000 rows, below that it is just the max. ``duration_s``
is the end of the last response (max of offset + response-time) and
``actual_qps`` = rows / duration_s. The histogram has one bucket per distinct
value, 0.1 ms wide (hey rounds to 0.1 ms), centred on the value.

What hey does not print: the number of workers (``connections``) and the
requested rate: ``-q`` is per worker and unknown from the output, so
``requested_qps`` is None.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections import Counter

from smp.errors import ReaderError
from smp.loaders import decode_text
from smp.model import HistogramBucket, Latencies, LoadGenerator, PerformanceTestResult
from smp.readers._fields import CsvRows

NAME = "hey"

CSV_COLUMNS: tuple[str, ...] = (
    "response-time",
    "DNS+dialup",
    "DNS",
    "Request-write",
    "Response-delay",
    "Response-read",
    "status-code",
    "offset",
)

# "Summary:" - the first line of hey's report (after an empty line)
SUMMARY_HEADER = re.compile(r"^Summary:\s*$")
# "  Total:\t0.4619 secs" and Slowest / Fastest / Average, in seconds
SECONDS_FIELD = re.compile(
    r"^\s+(?P<name>Total|Slowest|Fastest|Average):\s+(?P<value>\S+) secs\s*$"
)
# "  Requests/sec:\t4329.5264"
RPS_FIELD = re.compile(r"^\s+Requests/sec:\s+(?P<value>\S+)\s*$")
# "  Total data:\t256000 bytes" / "  Size/request:\t128 bytes" - unused
SIZE_FIELD = re.compile(r"^\s+(?:Total data|Size/request):\s+\d+ bytes\s*$")
# The headers of the sections that follow the summary
SECTION_HEADER = re.compile(
    r"^(?P<name>Response time histogram|Latency distribution|"
    r"Details \(average, fastest, slowest\)|Status code distribution|Error distribution):\s*$"
)
# "  0.001 [853]\t|■■■■" - upper mark in seconds and the count up to it
HISTOGRAM_ROW = re.compile(r"^\s+(?P<mark>\d+\.\d+) \[(?P<count>\d+)\]\s*\|.*$")
# "  50% in 0.0013 secs" (some hey builds print "%%")
LATENCY_ROW = re.compile(r"^\s+(?P<percent>\d+)%{1,2} in (?P<value>\S+) secs\s*$")
# "  DNS+dialup:\t0.0000 secs, 0.0001 secs, 0.0097 secs" - unused
DETAILS_ROW = re.compile(r"^\s+[A-Za-z+\- ]+:\s+\S+ secs, \S+ secs, \S+ secs\s*$")
# "  [200]\t1978 responses"
STATUS_ROW = re.compile(r"^\s+\[(?P<code>\d{3})\]\s+(?P<count>\d+) responses\s*$")
# "  [5]\tGet http://...: dial tcp ...: connection refused" - count first, then the message
ERROR_ROW = re.compile(r"^\s+\[(?P<count>\d+)\]\s+(?P<message>\S.*)$")
# The start of hey's summary, for sniffing
SUMMARY_START = re.compile(r"^Summary:\s*\n\s+Total:\s+\d+\.\d+ secs\s*$", re.MULTILINE)

_SECTION_ROWS: dict[str, re.Pattern[str]] = {
    "Response time histogram": HISTOGRAM_ROW,
    "Latency distribution": LATENCY_ROW,
    "Details (average, fastest, slowest)": DETAILS_ROW,
    "Status code distribution": STATUS_ROW,
    "Error distribution": ERROR_ROW,
}
_FIELDS = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}
_NEAREST_RANK = {"p50": (50, 100), "p90": (90, 100), "p95": (95, 100), "p99": (99, 100)}
_P999_MIN_ROWS = 1000


def sniff(data: bytes) -> bool:
    """hey's "Summary:" / "Total: ... secs" opening, or its exact CSV header."""
    head = data[:4096].decode("utf-8", errors="replace").lstrip("\ufeff")
    if head.split("\n", 1)[0].strip() == ",".join(CSV_COLUMNS):
        return True
    return bool(SUMMARY_START.search(head))


def read(data: bytes) -> list[PerformanceTestResult]:
    """One result from a hey summary or a ``-o csv`` file; raises ReaderError."""
    text = decode_text(data, NAME)
    if text.split("\n", 1)[0].strip().startswith("response-time,"):
        return [_read_csv(text)]
    return [_read_summary(text)]


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ReaderError(NAME, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ReaderError(NAME, f"{what} is {text!r}; it must be a finite number")
    return value


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 6)


def _is_error_status(code: int) -> bool:
    return not 200 <= code <= 399


# --- summary -------------------------------------------------------------------------------


def _read_summary(text: str) -> PerformanceTestResult:
    fields: dict[str, float] = {}
    rows: dict[str, list[re.Match[str]]] = {name: [] for name in _SECTION_ROWS}
    section = ""
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if SUMMARY_HEADER.match(line):
            section = "Summary"
        elif header := SECTION_HEADER.match(line):
            section = header.group("name")
            seen.add(section)
        elif section == "Summary":
            if m := SECONDS_FIELD.match(line):
                fields[m.group("name")] = _number(m.group("value"), f"line {number}: {m[1]}")
            elif m := RPS_FIELD.match(line):
                fields["Requests/sec"] = _number(m.group("value"), f"line {number}: Requests/sec")
            elif not SIZE_FIELD.match(line):
                raise ReaderError(NAME, f"line {number}: unexpected Summary line {line.strip()!r}")
        elif section in _SECTION_ROWS:
            if not (m := _SECTION_ROWS[section].match(line)):
                raise ReaderError(
                    NAME, f"line {number}: malformed {section!r} line: {line.strip()!r}"
                )
            rows[section].append(m)
    for name in ("Total", "Slowest", "Fastest", "Average", "Requests/sec"):
        if name not in fields:
            raise ReaderError(NAME, f"Summary {name!r} line is missing; is this hey output?")
    if "Status code distribution" not in seen:
        raise ReaderError(
            NAME, "'Status code distribution:' section is missing; is this complete hey output?"
        )

    percentiles: dict[int, float] = {}
    for m in rows["Latency distribution"]:
        percent = int(m.group("percent"))
        if percent > 0:  # hey prints empty slots as "0% in 0.0000 secs"
            percentiles[percent] = _ms(_number(m.group("value"), f"{percent}% latency"))
    status_codes: Counter[str] = Counter()
    for m in rows["Status code distribution"]:
        status_codes[m.group("code")] += int(m.group("count"))
    transport_errors = sum(int(m.group("count")) for m in rows["Error distribution"])
    bad_status = sum(n for code, n in status_codes.items() if _is_error_status(int(code)))
    return PerformanceTestResult(
        latencies_ms=Latencies(
            min=_ms(fields["Fastest"]),
            average=_ms(fields["Average"]),
            max=_ms(fields["Slowest"]),
            **{key: percentiles.get(percent) for key, percent in _FIELDS.items()},
        ),
        actual_qps=fields["Requests/sec"],
        duration_s=fields["Total"],
        request_count=sum(status_codes.values()) + transport_errors,
        error_count=transport_errors + bad_status,
        status_codes=dict(status_codes),
        histogram=_histogram(rows["Response time histogram"], fields),
        load_generator=LoadGenerator(name=NAME),
        protocol="http",
        labels={"hey.output": "summary"},
    )


def _histogram(rows: list[re.Match[str]], fields: dict[str, float]) -> list[HistogramBucket]:
    """Buckets from the printed marks, refined as the module docstring describes."""
    marks = [_number(m.group("mark"), "histogram mark") for m in rows]
    counts = [int(m.group("count")) for m in rows]
    if any(b < a for a, b in itertools.pairwise(marks)):
        raise ReaderError(NAME, "'Response time histogram' marks must not decrease")
    fastest, slowest = fields["Fastest"], fields["Slowest"]
    if len(marks) == 11 and slowest >= fastest:
        step = (slowest - fastest) / 10
        estimates = [fastest + step * i for i in range(10)] + [slowest]
        marks = [min(max(e, m - 0.0005), m + 0.0005) for e, m in zip(estimates, marks, strict=True)]
    buckets = []
    previous = marks[0] if marks else 0.0
    for mark, count in zip(marks, counts, strict=True):
        if count > 0:
            buckets.append(HistogramBucket(_ms(previous), _ms(mark), count))
        previous = mark
    return buckets


# --- csv -----------------------------------------------------------------------------------


def _read_csv(text: str) -> PerformanceTestResult:
    records = csv.reader(io.StringIO(text))
    header = [cell.strip() for cell in next(records)]
    if tuple(header) != CSV_COLUMNS:
        raise ReaderError(
            NAME, f"CSV header must be {','.join(CSV_COLUMNS)!r} (hey -o csv); got {header}"
        )
    latencies: list[float] = []
    status_codes: Counter[str] = Counter()
    try:
        end = _csv_rows(records, latencies, status_codes)
    except csv.Error as exc:
        raise ReaderError(NAME, f"line {records.line_num}: malformed CSV: {exc}") from None
    if not latencies:
        raise ReaderError(NAME, "the CSV has a header but no request rows")
    return _csv_result(sorted(latencies), status_codes, end)


def _csv_rows(records: CsvRows, latencies: list[float], status_codes: Counter[str]) -> float:
    """Collect response times and status codes; returns the end of the last response."""
    end = 0.0
    for record in records:
        number = records.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(CSV_COLUMNS):
            raise ReaderError(
                NAME, f"line {number}: {len(record)} cells, expected {len(CSV_COLUMNS)}"
            )
        values = {
            column: _number(cell.strip(), f"line {number}, column {column!r}:")
            for column, cell in zip(CSV_COLUMNS, record, strict=True)
        }
        code = values["status-code"]
        if code != int(code) or not 100 <= code <= 599:
            raise ReaderError(NAME, f"line {number}, column 'status-code': {code} is no status")
        if values["response-time"] < 0 or values["offset"] < 0:
            raise ReaderError(NAME, f"line {number}: negative response-time or offset")
        latencies.append(values["response-time"])
        status_codes[str(int(code))] += 1
        end = max(end, values["offset"] + values["response-time"])
    return end


def _nearest_rank(ordered: list[float], numerator: int, denominator: int) -> float:
    rank = max(1, -(-numerator * len(ordered) // denominator))
    return ordered[rank - 1]


def _csv_result(
    ordered: list[float], status_codes: Counter[str], end: float
) -> PerformanceTestResult:
    n = len(ordered)
    values = {k: _ms(_nearest_rank(ordered, *q)) for k, q in _NEAREST_RANK.items()}
    p999 = _ms(_nearest_rank(ordered, 999, 1000)) if n >= _P999_MIN_ROWS else None
    histogram = [
        HistogramBucket(max(0.0, round(_ms(value) - 0.05, 6)), round(_ms(value) + 0.05, 6), count)
        for value, count in sorted(Counter(ordered).items())
    ]
    return PerformanceTestResult(
        latencies_ms=Latencies(
            min=_ms(ordered[0]),
            average=_ms(sum(ordered) / n),
            max=_ms(ordered[-1]),
            p999=p999,
            **values,
        ),
        actual_qps=n / end if end > 0 else None,
        duration_s=end if end > 0 else None,
        request_count=n,
        error_count=sum(c for code, c in status_codes.items() if _is_error_status(int(code))),
        status_codes=dict(status_codes),
        histogram=histogram,
        load_generator=LoadGenerator(name=NAME),
        protocol="http",
        labels={"hey.output": "csv"},
    )
