"""Line parser shared by the wrk and wrk2 readers (private).

wrk 4.x and wrk2 print the same skeleton::

    Running 3s test @ http://127.0.0.1:18080/
      2 threads and 10 connections
      Thread Stats   Avg      Stdev     Max   +/- Stdev
        Latency     1.95ms    1.78ms   9.52ms   76.13%
        Req/Sec     2.80k   468.50     3.47k    75.81%
      17277 requests in 3.10s, 4.40MB read
      Socket errors: connect 0, read 1, write 0, timeout 3     (only when non-zero)
      Non-2xx or 3xx responses: 183                           (only when non-zero)
    Requests/sec:   5573.60
    Transfer/sec:      1.42MB

``--latency`` adds wrk's "Latency Distribution" block (50/75/90/99%). wrk2 adds
"Thread calibration" lines and, with ``--latency`` / ``-U``, one HdrHistogram
block per histogram: percentiles, the "Detailed Percentile spectrum" (Value in
ms, Percentile as a fraction, TotalCount, 1/(1-Percentile)) and three ``#[...]``
summary lines. Durations switch units (us, ms, s, m, h) and a value with a
one-letter unit carries a trailing space; :func:`smp.units.duration_to_ms`
reads every form.

Lines this module does not know (Lua ``done()`` output, a pasted command line)
are ignored; a line that starts like a known one but does not parse is an
error naming the line, so garbled output is never half-read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from smp.errors import ReaderError
from smp.loaders import decode_text
from smp.model import LoadGenerator, PerformanceTestResult
from smp.units import duration_to_ms

# "Running 3s test @ http://host/" - the first line of every run; splits concatenated runs.
RUNNING_LINE = re.compile(r"^Running (?P<duration>\S+) test @ (?P<url>\S+)\s*$", re.MULTILINE)
# "  2 threads and 10 connections"
THREADS_LINE = re.compile(r"^\s*(?P<threads>\d+) threads and (?P<connections>\d+) connections\s*$")
# "  Thread Stats   Avg      Stdev     Max   +/- Stdev" - the table header
THREAD_STATS_HEADER = re.compile(r"^\s*Thread Stats\s+Avg\s+Stdev\s+Max\s+\+/- Stdev\s*$")
# "    Latency     1.95ms    1.78ms   9.52ms   76.13%" - avg, stdev, max, share within 1 stdev
LATENCY_ROW = re.compile(
    r"^\s*Latency\s+(?P<avg>\S+)\s+(?P<stdev>\S+)\s+(?P<max>\S+)\s+(?P<within>\S+%)\s*$"
)
# "    Req/Sec     2.80k   468.50     3.47k    75.81%" - per-thread rate, unused
REQ_SEC_ROW = re.compile(r"^\s*Req/Sec\s+\S+\s+\S+\s+\S+\s+\S+%\s*$")
# "  Latency Distribution" (wrk --latency) or "... (HdrHistogram - Recorded Latency)" (wrk2)
DISTRIBUTION_HEADER = re.compile(
    r"^\s*Latency Distribution(?:\s+\(HdrHistogram - (?P<hdr>.*)\))?\s*$"
)
# "     50%    1.21ms" (wrk) or " 99.900%    8.21ms" (wrk2)
PERCENTILE_ROW = re.compile(r"^\s*(?P<percent>\d+(?:\.\d+)?)%\s+(?P<value>\S+)\s*$")
# "  Detailed Percentile spectrum:" and its column header line
SPECTRUM_HEADER = re.compile(r"^\s*Detailed Percentile spectrum:\s*$")
SPECTRUM_COLUMNS = re.compile(r"^\s*Value\s+Percentile\s+TotalCount\s+1/\(1-Percentile\)\s*$")
# "       6.167     0.900000         2239        10.00" (last row ends in "inf")
SPECTRUM_ROW = re.compile(
    r"^\s*(?P<value>\d+\.\d+)\s+(?P<fraction>\d+\.\d+)\s+(?P<count>\d+)\s+(?:\d+\.\d+|inf)\s*$"
)
# "#[Mean    =        2.543, StdDeviation   =        1.866]" (ms)
SPECTRUM_MEAN = re.compile(
    r"^#\[Mean\s*=\s*(?P<mean>\S+),\s*StdDeviation\s*=\s*(?P<stdev>\S+)\]\s*$"
)
# "#[Max     =       10.672, Total count    =         2486]" (ms, requests)
SPECTRUM_MAX = re.compile(r"^#\[Max\s*=\s*(?P<max>\S+),\s*Total count\s*=\s*(?P<count>\d+)\]\s*$")
# "#[Buckets =           27, SubBuckets     =         2048]" - HdrHistogram geometry
SPECTRUM_BUCKETS = re.compile(r"^#\[Buckets\s*=\s*\d+,\s*SubBuckets\s*=\s*\d+\]\s*$")
# "  Thread calibration: mean lat.: 2.541ms, rate sampling interval: 12ms" (wrk2 only)
CALIBRATION_LINE = re.compile(
    r"^\s*Thread calibration: mean lat\.: (?P<mean>\S+), rate sampling interval: \S+\s*$"
)
# "  17277 requests in 3.10s, 4.40MB read"
REQUESTS_LINE = re.compile(
    r"^\s*(?P<count>\d+) requests in (?P<duration>\S+), (?P<bytes>\S+) read\s*$"
)
# "  Socket errors: connect 0, read 1, write 0, timeout 3"
SOCKET_ERRORS_LINE = re.compile(
    r"^\s*Socket errors: connect (?P<connect>\d+), read (?P<read>\d+), "
    r"write (?P<write>\d+), timeout (?P<timeout>\d+)\s*$"
)
# "  Non-2xx or 3xx responses: 183" (wrk counts status > 399 here)
NON_2XX_LINE = re.compile(r"^\s*Non-2xx or 3xx responses: (?P<count>\d+)\s*$")
# "Requests/sec:   5573.60"
REQUESTS_PER_SEC_LINE = re.compile(r"^\s*Requests/sec:\s+(?P<rate>\S+)\s*$")
# "Transfer/sec:      1.42MB"
TRANSFER_LINE = re.compile(r"^\s*Transfer/sec:\s+(?P<rate>\S+)\s*$")

# For sniffing: the threads line anywhere after "Running", and any wrk2-only line.
_THREADS_ANYWHERE = re.compile(r"^\s*\d+ threads and \d+ connections\s*$", re.MULTILINE)
_WRK2_MARKER = re.compile(
    r"^\s*(?:Thread calibration:|Latency Distribution \(HdrHistogram"
    r"|Detailed Percentile spectrum:)",
    re.MULTILINE,
)

# Prefix -> pattern: a line starting with the prefix must match the pattern in full.
_KEYED_LINES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Thread calibration:", CALIBRATION_LINE),
    ("Socket errors:", SOCKET_ERRORS_LINE),
    ("Non-2xx or 3xx responses:", NON_2XX_LINE),
    ("Requests/sec:", REQUESTS_PER_SEC_LINE),
    ("Transfer/sec:", TRANSFER_LINE),
    ("#[Mean", SPECTRUM_MEAN),
    ("#[Max", SPECTRUM_MAX),
    ("#[Buckets", SPECTRUM_BUCKETS),
)


@dataclass
class SpectrumRow:
    """One row of wrk2's percentile spectrum: ``count`` requests took <= ``value_ms``."""

    value_ms: float
    fraction: float
    total_count: int


@dataclass
class HdrBlock:
    """One wrk2 HdrHistogram block ("Recorded Latency" or "Uncorrected Latency ...")."""

    description: str
    percentiles: dict[float, float] = field(default_factory=dict)  # percent -> ms
    spectrum: list[SpectrumRow] = field(default_factory=list)
    mean_ms: float | None = None
    max_ms: float | None = None
    total_count: int | None = None

    @property
    def corrected(self) -> bool:
        return self.description.startswith("Recorded")


@dataclass
class WrkRun:
    """Everything one wrk / wrk2 run printed, in ms, seconds and counts."""

    threads: int
    connections: int
    latency_avg_ms: float
    latency_max_ms: float
    request_count: int
    duration_s: float
    requests_per_sec: float
    distribution: dict[float, float] = field(default_factory=dict)  # wrk --latency
    hdr_blocks: list[HdrBlock] = field(default_factory=list)  # wrk2
    calibration_lines: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx_3xx: int = 0


def split_runs(text: str, fmt: str) -> list[tuple[int, str]]:
    """(first line number, text) of each run, cut at every "Running ... test @" line."""
    starts = [m.start() for m in RUNNING_LINE.finditer(text)]
    if not starts:
        raise ReaderError(fmt, f"'Running ... test @ URL' line is missing; is this {fmt} output?")
    ends = [*starts[1:], len(text)]
    return [(text.count("\n", 0, a) + 1, text[a:b]) for a, b in zip(starts, ends, strict=True)]


def _ms(text: str, fmt: str, what: str) -> float:
    try:
        value = duration_to_ms(text, fmt)
    except ReaderError:
        raise ReaderError(
            fmt, f"{what} {text!r} is not a duration (expected e.g. 850.00us, 1.20s)"
        ) from None
    return value


def _float(text: str, fmt: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ReaderError(fmt, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ReaderError(fmt, f"{what} is {text!r}; it must be a finite number")
    return value


def _missing(fmt: str, what: str) -> ReaderError:
    return ReaderError(fmt, f"{what} line is missing; is this complete {fmt} output?")


class _Parser:
    """Walks one run's lines once, remembering the section it is in."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.found: dict[str, re.Match[str]] = {}
        self.latency: re.Match[str] | None = None
        self.distribution: dict[float, float] = {}
        self.blocks: list[HdrBlock] = []
        self.calibrations = 0
        self.section = ""  # "", "stats", "wrk-dist", "hdr-dist", "spectrum"

    def feed(self, number: int, line: str) -> None:
        stripped = line.strip()
        for prefix, pattern in _KEYED_LINES:
            if stripped.startswith(prefix):
                self._keyed(number, line, prefix, pattern)
                return
        if m := REQUESTS_LINE.match(line):
            self._once(number, "requests", m)
            self.section = ""
        elif " requests in " in stripped and stripped[:1].isdigit():
            raise self._garbled(number, "'N requests in'", line)
        elif m := THREADS_LINE.match(line):
            self._once(number, "threads", m)
        elif THREAD_STATS_HEADER.match(line):
            self.section = "stats"
        elif header := DISTRIBUTION_HEADER.match(line):
            if header.group("hdr") is None:
                self.section = "wrk-dist"
            else:
                self.section = "hdr-dist"
                self.blocks.append(HdrBlock(description=header.group("hdr")))
        elif self.section == "stats" and stripped.startswith("Latency"):
            if not (row := LATENCY_ROW.match(line)):
                raise self._garbled(number, "Thread Stats 'Latency'", line)
            self.latency = row
            self.section = ""
        elif self.section in ("wrk-dist", "hdr-dist") and stripped[:1].isdigit():
            self._percentile(number, line)
        elif SPECTRUM_HEADER.match(line):
            if not self.blocks:
                raise ReaderError(self.fmt, f"line {number}: percentile spectrum outside a block")
            self.section = "spectrum"
        elif self.section == "spectrum" and stripped[:1].isdigit():
            self._spectrum_row(number, line)

    def _once(self, number: int, key: str, m: re.Match[str]) -> None:
        if key in self.found:
            raise ReaderError(self.fmt, f"line {number}: a second {key!r} line in one run")
        self.found[key] = m

    def _percentile(self, number: int, line: str) -> None:
        if not (row := PERCENTILE_ROW.match(line)):
            raise self._garbled(number, "latency distribution", line)
        target = self.distribution if self.section == "wrk-dist" else self.blocks[-1].percentiles
        percent = _float(row.group("percent"), self.fmt, f"line {number}: percentile")
        target[percent] = _ms(row.group("value"), self.fmt, f"line {number}: latency")

    def _spectrum_row(self, number: int, line: str) -> None:
        if not (row := SPECTRUM_ROW.match(line)):
            raise self._garbled(number, "percentile spectrum", line)
        self.blocks[-1].spectrum.append(
            SpectrumRow(
                value_ms=_float(row.group("value"), self.fmt, f"line {number}: Value"),
                fraction=_float(row.group("fraction"), self.fmt, f"line {number}: Percentile"),
                total_count=int(row.group("count")),
            )
        )

    def _keyed(self, number: int, line: str, prefix: str, pattern: re.Pattern[str]) -> None:
        m = pattern.match(line.rstrip("\n"))
        if not m:
            raise self._garbled(number, repr(prefix.rstrip(":")), line)
        if pattern is CALIBRATION_LINE:
            self.calibrations += 1
            return
        if prefix.startswith("#["):
            if not self.blocks or self.section != "spectrum":
                raise ReaderError(self.fmt, f"line {number}: {prefix}...] outside a spectrum")
            block = self.blocks[-1]
            if pattern is SPECTRUM_MEAN:
                block.mean_ms = _float(m.group("mean"), self.fmt, f"line {number}: Mean")
            elif pattern is SPECTRUM_MAX:
                block.max_ms = _float(m.group("max"), self.fmt, f"line {number}: Max")
                block.total_count = int(m.group("count"))
            return
        self._once(number, prefix, m)
        self.section = ""

    def _garbled(self, number: int, what: str, line: str) -> ReaderError:
        return ReaderError(self.fmt, f"line {number}: malformed {what} line: {line.strip()!r}")


def parse_run(text: str, fmt: str, first_line: int = 1) -> WrkRun:
    """Parse one run (text starting at its "Running" line). Raises ReaderError."""
    parser = _Parser(fmt)
    for offset, line in enumerate(text.splitlines()):
        parser.feed(first_line + offset, line)
    found = parser.found
    if "threads" not in found:
        raise _missing(fmt, "'N threads and M connections'")
    if parser.latency is None:
        raise _missing(fmt, "'Thread Stats' table with its 'Latency'")
    if "requests" not in found:
        raise _missing(fmt, "'N requests in T, X read'")
    if "Requests/sec:" not in found:
        raise _missing(fmt, "'Requests/sec'")
    for block in parser.blocks:
        _check_block(block, fmt)
    requests = found["requests"]
    run = WrkRun(
        threads=int(found["threads"].group("threads")),
        connections=int(found["threads"].group("connections")),
        latency_avg_ms=_ms(parser.latency.group("avg"), fmt, "Thread Stats Latency Avg"),
        latency_max_ms=_ms(parser.latency.group("max"), fmt, "Thread Stats Latency Max"),
        request_count=int(requests.group("count")),
        duration_s=_ms(requests.group("duration"), fmt, "'requests in' duration") / 1e3,
        requests_per_sec=_float(found["Requests/sec:"].group("rate"), fmt, "Requests/sec"),
        distribution=parser.distribution,
        hdr_blocks=parser.blocks,
        calibration_lines=parser.calibrations,
    )
    if errors := found.get("Socket errors:"):
        run.socket_errors = {k: int(v) for k, v in errors.groupdict().items()}
    if non_2xx := found.get("Non-2xx or 3xx responses:"):
        run.non_2xx_3xx = int(non_2xx.group("count"))
    return run


def _check_block(block: HdrBlock, fmt: str) -> None:
    """A block must be complete: percentiles, spectrum and its #[Max ...] footer."""
    name = f"HdrHistogram block '{block.description}'"
    if not block.percentiles:
        raise ReaderError(fmt, f"{name} has no percentile lines; is the output complete?")
    if not block.spectrum:
        raise ReaderError(fmt, f"{name} has no 'Detailed Percentile spectrum' rows")
    if block.total_count is None or block.mean_ms is None:
        raise _missing(fmt, f"{name}: '#[Mean ...]' / '#[Max ..., Total count ...]'")
    previous = block.spectrum[0]
    for row in block.spectrum[1:]:
        if row.value_ms < previous.value_ms or row.total_count < previous.total_count:
            raise ReaderError(
                fmt, f"{name}: spectrum rows must not decrease (row at {row.value_ms} ms)"
            )
        previous = row
    if previous.total_count != block.total_count:
        raise ReaderError(
            fmt,
            f"{name}: the spectrum ends at TotalCount {previous.total_count} but the "
            f"summary says Total count = {block.total_count}",
        )


def parse(data: bytes, fmt: str) -> list[WrkRun]:
    """Every run in ``data`` (normally one). Raises ReaderError."""
    text = decode_text(data, fmt)
    return [parse_run(chunk, fmt, first_line=line) for line, chunk in split_runs(text, fmt)]


def looks_like_wrk(data: bytes) -> tuple[bool, bool]:
    """(wrk-shaped, has wrk2 markers) for sniffing; never raises."""
    head = data[:65536].decode("utf-8", errors="replace")
    running = RUNNING_LINE.search(head)
    shaped = running is not None and bool(_THREADS_ANYWHERE.search(head, running.end()))
    return (shaped, bool(_WRK2_MARKER.search(head)))


def base_result(run: WrkRun, name: str) -> PerformanceTestResult:
    """The fields wrk and wrk2 fill the same way (everything but the latencies).

    ``request_count`` is the "N requests in" figure (completed responses);
    ``error_count`` adds the socket errors (connect, read, write, timeout) to the
    "Non-2xx or 3xx responses" count, which wrk increments for status > 399. The
    output has no per-status breakdown, so ``status_codes`` holds only
    ``{"non_2xx_3xx": N}``, and only when wrk printed that line.
    """
    labels = {f"{name}.threads": str(run.threads)}
    for kind, count in run.socket_errors.items():
        labels[f"{name}.socket_errors.{kind}"] = str(count)
    return PerformanceTestResult(
        actual_qps=run.requests_per_sec,
        duration_s=run.duration_s,
        request_count=run.request_count,
        error_count=sum(run.socket_errors.values()) + run.non_2xx_3xx,
        status_codes={"non_2xx_3xx": run.non_2xx_3xx} if run.non_2xx_3xx else {},
        load_generator=LoadGenerator(name=name),
        protocol="http",
        connections=run.connections,
        labels=labels,
    )
