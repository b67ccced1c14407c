"""nighthawk: `nighthawk_client --output-format json` (or yaml) output, read from "global".

Method and units. Only the result named ``global`` (all workers merged) is
read. Latencies come from its ``benchmark_http_client.request_to_response``
statistic, whose protobuf Duration strings (``"0.000059131s"``) are converted
to milliseconds: min/max/mean from the statistic (outputs from 2019 have no
min/max; then the percentile-0 and percentile-1 rows, which nighthawk fills
with the exact min and max, are used). nighthawk lists percentiles as
fractions 0..1 of an HdrHistogram and has no exact 0.99 row, so each of
p50/p90/p95/p99/p99.9 is the first row whose percentile is >= the one wanted.
No histogram is filled: the percentile rows are not buckets.

Counters (nighthawk omits counters that are zero, so a missing one is 0):
``request_count`` = ``upstream_rq_total`` (requests sent) +
``benchmark.pool_connection_failure`` (requests that failed before they could
be sent). ``status_codes`` are the classes nighthawk counts (``"1xx"``,
``"2xx"``, ``"3xx"``, ``"4xx"``, ``"5xx"``, ``"xxx"``); it records no exact code.
``error_count`` = every non-2xx response + ``benchmark.stream_resets`` +
``benchmark.pool_connection_failure``. ``benchmark.pool_overflow`` is not an
error: those requests were never issued (the rate fell short), which shows as
``actual_qps`` below ``requested_qps``.

Rates. ``--rps`` and ``--connections`` apply to each worker (event loop; see
``--concurrency``: "an effective load multiplier"), so ``requested_qps`` =
``requests_per_second`` x workers and ``connections`` = ``connections`` x
workers (1 per worker with ``h2`` unless ``experimental_h2_use_multiple_connections``),
where workers = the number of per-worker results, or 1 when only ``global``
is written. ``actual_qps`` = ``request_count`` / ``execution_duration`` of
``global``; outputs older than that field use the requested ``duration``.
``start_time`` is ``global.execution_start`` (first request), else the
output's ``timestamp`` (when nighthawk started).

nighthawk's other formats (human, csv, dotted, prometheus) and a lone
Statistic message are recognised and refused with a message saying to re-run
with ``--output-format json``: they round to whole microseconds and drop the
options and timing. Output that is not strict JSON, or YAML that does not
parse, is refused with the parser's line and column. Its fortio format is read
by the fortio reader.

What the source lacks: exact status codes, a latency histogram, CPU/memory.
"""

from __future__ import annotations

import re
from typing import Any

from smp.errors import ReaderError
from smp.loaders import decode_text, load_json, load_yaml
from smp.model import Latencies, LoadGenerator, PerformanceTestResult
from smp.readers._fields import Fields, end_time, json_type, parse_timestamp

NAME = "nighthawk"
LATENCY_STATISTIC = "benchmark_http_client.request_to_response"
QUANTILES: tuple[tuple[str, float], ...] = (
    ("p50", 0.5),
    ("p90", 0.9),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
)
STATUS_CLASSES: tuple[str, ...] = ("1xx", "2xx", "3xx", "4xx", "5xx", "xxx")
_RERUN = "re-run nighthawk_client with `--output-format json` and submit that file"
_BANNER = "Nighthawk - A layer 7 protocol benchmarking tool."
_OTHER_FORMATS = {
    "human": "human-readable console output (--output-format human)",
    "csv": "CSV output (--output-format csv)",
    "dotted": "dotted-name output (--output-format dotted)",
    "prometheus": "Prometheus exposition output (--output-format prometheus)",
}
_JSON_SIGNS = (re.compile(r'"results"\s*:\s*\['), re.compile(r'"statistics"\s*:\s*\['))
_YAML_SIGNS = (re.compile(r"^results:\s*$", re.M), re.compile(r"^\s+statistics:\s*$", re.M))
_DOTTED = re.compile(r"^(?:global|worker_\d+)\.[^\s:]*\.samples: \d+$", re.M)
_PROMETHEUS = (re.compile(r"^# TYPE nighthawk_\w+ \w+$", re.M), re.compile(r'\{scope="'))


def looks_like_output(doc: Any) -> bool:
    """A decoded nighthawk Output: ``results`` holding named results with statistics/counters."""
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        return False
    items = doc["results"]
    return bool(items) and all(
        isinstance(r, dict) and "name" in r and ("statistics" in r or "counters" in r)
        for r in items
    )


def _looks_like_statistic(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and {"id", "count", "percentiles"} <= doc.keys()
        and any(k in doc for k in ("mean", "raw_mean", "pstdev", "raw_pstdev"))
    )


def _classify(text: str) -> str | None:
    """Which nighthawk output this is: json, yaml, statistic, human, csv, dotted, prometheus."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = load_json(text, NAME)
        except ReaderError:  # not strict JSON, yet clearly nighthawk's: read() explains
            return "json" if all(sign.search(text) for sign in _JSON_SIGNS) else None
        if looks_like_output(doc):
            return "json"
        return "statistic" if _looks_like_statistic(doc) else None
    if stripped.startswith(_BANNER):
        csv = "Min,Mean,Max,Pstdev" in text or "\nCounter,Value,Per second" in text
        return "csv" if csv else "human"
    if _DOTTED.search(text):
        return "dotted"
    if all(sign.search(text) for sign in _PROMETHEUS):
        return "prometheus"
    if all(sign.search(text) for sign in _YAML_SIGNS):
        return "yaml"
    return None


def sniff(data: bytes) -> bool:
    try:
        return _classify(data.decode("utf-8-sig")) is not None
    except Exception:
        return False


def read(data: bytes) -> list[PerformanceTestResult]:
    text = decode_text(data, NAME)
    kind = _classify(text)
    if kind is None:
        raise ReaderError(NAME, f"not nighthawk output; {_RERUN}")
    if kind in _OTHER_FORMATS:
        raise ReaderError(
            NAME,
            f"this is nighthawk's {_OTHER_FORMATS[kind]}, which rounds latencies to whole "
            f"microseconds and leaves out the run's options and timing; {_RERUN}",
        )
    if kind == "statistic":
        raise ReaderError(
            NAME,
            "this is a single nighthawk Statistic message, not the output of a run: it has no "
            f"counters, options or timing; {_RERUN}",
        )
    if kind == "json":
        try:
            doc = load_json(text, NAME)
        except ReaderError as exc:
            raise ReaderError(
                NAME,
                f"this nighthawk JSON output is not strict JSON ({exc.message}); nighthawk "
                f"writes strict JSON, so the file was edited or cut short; {_RERUN}",
            ) from None
    else:
        try:
            doc = load_yaml(text, NAME)
        except ReaderError as exc:
            hint = ""
            if re.search(r"@\w+@", text):
                hint = " (it holds unfilled template placeholders like @version_major@)"
            raise ReaderError(
                NAME, f"this nighthawk YAML output cannot be read{hint}: {exc.message}"
            ) from None
    return [convert(doc)]


def convert(doc: Any, *, format: str = NAME, path: str = "") -> PerformanceTestResult:
    """One decoded nighthawk Output -> SMP (``path`` prefixes field names in errors)."""
    top = Fields(doc, path, format)
    results = [
        Fields(r, f"{top.where('results')}[{i}]", format)
        for i, r in enumerate(top.array("results", required=True))
    ]
    names = [r.text("name") or "" for r in results]
    if "global" not in names:
        found = ", ".join(repr(n) for n in names) or "none"
        raise ReaderError(format, f"no result named 'global' (results: {found})")
    glob = results[names.index("global")]
    workers = len(results) - 1 if len(results) > 1 else 1

    statistics = [
        Fields(s, f"{glob.where('statistics')}[{i}]", format)
        for i, s in enumerate(glob.array("statistics"))
    ]
    ids = [s.text("id") or "" for s in statistics]
    if LATENCY_STATISTIC not in ids:
        present = ", ".join(repr(i) for i in ids) or "none"
        raise ReaderError(
            format,
            f"result 'global' has no {LATENCY_STATISTIC!r} statistic (statistics: {present}), "
            "so there are no request latencies to convert",
        )
    latencies = _latencies(statistics[ids.index(LATENCY_STATISTIC)])

    counters = _counters(glob)
    request_count = error_count = None
    status: dict[str, int] = {}
    if counters:
        failed_to_connect = counters.get("benchmark.pool_connection_failure", 0)
        request_count = counters.get("upstream_rq_total", 0) + failed_to_connect
        for cls in STATUS_CLASSES:
            if counters.get(f"benchmark.http_{cls}"):
                status[cls] = counters[f"benchmark.http_{cls}"]
        error_count = (
            sum(n for cls, n in status.items() if cls != "2xx")
            + counters.get("benchmark.stream_resets", 0)
            + failed_to_connect
        )

    options = top.child("options") or Fields({}, top.where("options"), format)
    duration_s = _seconds(glob, "execution_duration")
    if duration_s is None:
        duration_s = _seconds(options, "duration")
    start_raw = glob.obj.get("execution_start")
    start_where = glob.where("execution_start")
    if start_raw is None:
        start_raw, start_where = top.obj.get("timestamp"), top.where("timestamp")
    start_time = None if start_raw is None else parse_timestamp(start_raw, start_where, format)

    actual_qps = None
    if request_count is not None and duration_s:
        actual_qps = request_count / duration_s
    rps = _wrapped_count(options, "requests_per_second")
    per_worker = _wrapped_count(options, "connections")
    h2_single = _flag(options, "h2") and not _flag(
        options, "experimental_h2_use_multiple_connections"
    )
    if h2_single and per_worker is not None:
        per_worker = 1
    labels: dict[str, str] = {}
    uri = options.obj.get("uri")
    if isinstance(uri, dict):
        uri = uri.get("value")
    if isinstance(uri, str) and uri:
        labels["url"] = uri
    run_labels = [x for x in options.array("labels") if isinstance(x, str) and x]
    if run_labels:
        labels["run_labels"] = " ".join(run_labels)
    return PerformanceTestResult(
        latencies_ms=latencies,
        actual_qps=actual_qps,
        start_time=start_time,
        end_time=end_time(start_time, duration_s, glob, "execution_duration"),
        duration_s=duration_s,
        requested_qps=float(rps * workers) if rps else None,
        request_count=request_count,
        error_count=error_count,
        status_codes=status,
        load_generator=LoadGenerator("nighthawk", _version(top)),
        protocol="http",
        connections=per_worker * workers if per_worker else None,
        labels=labels,
    )


def _seconds(fields: Fields, key: str) -> float | None:
    ms = fields.duration_ms(key)
    return None if ms is None else ms / 1e3


def _latencies(stat: Fields) -> Latencies:
    for raw in ("raw_mean", "raw_min", "raw_max"):
        if stat.has(raw):
            stat.fail(raw, "is a raw value, but request latencies must be durations")
    rows: list[tuple[float, float]] = []
    for index, entry in enumerate(stat.array("percentiles")):
        row = Fields(entry, f"{stat.where('percentiles')}[{index}]", stat.format)
        percentile = row.number("percentile") or 0.0  # proto3 JSON omits a 0
        row.count("count")
        if not 0 <= percentile <= 1:
            row.fail("percentile", f"must be a fraction between 0 and 1, got {percentile}")
        if rows and percentile < rows[-1][0]:
            row.fail("percentile", "must not be lower than the row before (rows are ascending)")
        if row.has("raw_value"):
            row.fail("raw_value", "is a raw value, but request latencies must be durations")
        value = row.duration_ms("duration")
        rows.append((percentile, 0.0 if value is None else value))
    latencies = Latencies()
    if not stat.count("count"):
        return latencies
    latencies.average = stat.duration_ms("mean")
    latencies.min = stat.duration_ms("min")
    latencies.max = stat.duration_ms("max")
    if latencies.min is None and rows and rows[0][0] == 0:
        latencies.min = rows[0][1]
    if latencies.max is None and rows and rows[-1][0] == 1:
        latencies.max = rows[-1][1]
    for name, q in QUANTILES:
        # No exact row for most quantiles: take the first row at or above it.
        value = next((ms for p, ms in rows if p >= q - 1e-12), None)
        setattr(latencies, name, value)
    return latencies


def _counters(result: Fields) -> dict[str, int]:
    counters: dict[str, int] = {}
    for index, entry in enumerate(result.array("counters")):
        counter = Fields(entry, f"{result.where('counters')}[{index}]", result.format)
        name = counter.text("name", required=True)
        value = counter.count("value") or 0  # proto3 JSON omits a 0
        assert name is not None
        if name in counters:
            counter.fail("name", f"{name!r} appears twice")
        counters[name] = value
    return counters


def _wrapped_count(options: Fields, key: str) -> int | None:
    """A uint32 option, written plain or as a wrapper object {"value": n}."""
    child = options.obj.get(key)
    if isinstance(child, dict):
        return Fields(child, options.where(key), options.format).count("value")
    return options.count(key)


def _flag(options: Fields, key: str) -> bool:
    value = options.obj.get(key)
    if isinstance(value, dict):
        value = value.get("value")
    if value is not None and not isinstance(value, bool):
        options.fail(key, f"must be true or false, got {json_type(value)}")
    return bool(value)


def _version(top: Fields) -> str | None:
    outer = top.child("version")
    inner = outer.child("version") if outer is not None else None
    if inner is None:
        return None
    parts = [inner.count(k) or 0 for k in ("major_number", "minor_number", "patch")]
    return ".".join(str(p) for p in parts)
