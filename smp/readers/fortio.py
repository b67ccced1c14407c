"""fortio: `fortio load -json` results (HTTP and gRPC, 0.8 to 1.x), nighthawk's fortio format.

Method and units. fortio writes every duration in SECONDS (floats); each one is
converted to milliseconds. ``ActualDuration`` is in NANOSECONDS (Go's
``time.Duration``), except in nighthawk's pre-2020 fortio output, which wrote
the requested duration in whole seconds there (recognised because it equals
``RequestedDuration`` exactly). Percentiles come from
``DurationHistogram.Percentiles`` when fortio listed them (50/90/95/99/99.9);
missing ones are interpolated from the ``Data`` buckets the way fortio does
(:func:`smp.histogram.percentile_from_buckets`), or, in nighthawk's variant whose
buckets are nighthawk's percentile rows, taken as the end of the first bucket
whose ``Percent`` reaches them (nighthawk's own rule, so a run gives the same
figures in both of nighthawk's formats). When ``Min``/``Max`` are absent
(older nighthawk output) they are the first bucket's start and the last
bucket's end, which fortio and nighthawk set to the exact min and max. The
average is never estimated.

Status codes and errors. HTTP codes are kept as written (``"200"``, ``"-1"``
for a connection error); gRPC ones too, except that the old numeric health
enum ``"1"`` becomes ``"SERVING"``. ``error_count`` counts the calls whose code
is not 2xx (HTTP) or not ``SERVING`` (gRPC); when fortio also wrote
``ErrorsDurationHistogram.Count`` the larger of the two figures is kept, so
errors are never under-reported.

nighthawk's variant (``--output-format fortio``; counts as JSON strings,
``RequestedQPS`` a number, ``BytesSent``, a trailing ``Nighthawk`` label) is
read the same way except: the load generator is nighthawk (``Version`` is
nighthawk's); ``RetCodes["200"]`` is nighthawk's 2xx counter and becomes
``"2xx"``; ``error_count`` stays unknown (no other code is written);
``request_count`` is at least that 2xx count, because the histogram leaves out
each worker's untimed warm-up request. Before 2020 nighthawk wrote
``RequestedQPS`` and ``NumThreads`` per worker without the worker count, so
they are left unknown, and ``actual_qps`` is recomputed as requests / duration
(nighthawk's formula; its sample files carry a per-worker figure there).

fortio's console text (``fortio load URL`` without ``-json``) is parsed too:
it prints the count, min/avg/max, the buckets (edges rounded to 6 significant
digits), the percentile targets and the codes, but no start date.

Successful requests. fortio 1.x also writes ``ErrorsDurationHistogram``, the
latencies of the failed calls alone, in the same buckets as
``DurationHistogram``; when a run has errors, its bucket-by-bucket difference is
the successful calls' histogram, and its summary is ``latencies_ok_ms``. Fast
failures would otherwise pass for good latency (docs/meshmark.md, MeshMark 2).
Older fortio (and nighthawk's variant) write no errors histogram: nothing is
separated, and the scorer treats the mixed latencies pessimistically.

What fortio lacks: p95 unless asked for (interpolated here), the run's start
in the text output, and CPU/memory figures.
"""

from __future__ import annotations

import re
from typing import Any

from smp.errors import ReaderError
from smp.histogram import HistogramError, percentile_from_buckets, summary_from_buckets
from smp.loaders import decode_text, load_json
from smp.model import HistogramBucket, Latencies, LoadGenerator, PerformanceTestResult
from smp.readers._fields import Fields, end_time, json_type, parse_timestamp
from smp.units import duration_to_ms

NAME = "fortio"

PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9))
_DECIMAL = re.compile(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
_JSON_HINT = "re-run with `fortio load -json FILE ...` and submit FILE"


def sniff(data: bytes) -> bool:
    """fortio JSON (an object with a DurationHistogram object) or fortio console text."""
    try:
        text = data.decode("utf-8-sig")
        if text.lstrip().startswith("{"):
            doc = load_json(text, NAME)
            return isinstance(doc, dict) and isinstance(doc.get("DurationHistogram"), dict)
        return bool(_TEXT_SIGNS.search(text))
    except Exception:
        return False


def read(data: bytes) -> list[PerformanceTestResult]:
    text = decode_text(data, NAME)
    if not text.lstrip().startswith(("{", "[")):
        if _TEXT_SIGNS.search(text):
            return [_read_text(text)]
        raise ReaderError(NAME, f"not fortio output (neither JSON nor fortio's text); {_JSON_HINT}")
    doc = load_json(text, NAME)
    if not isinstance(doc, dict):
        raise ReaderError(NAME, f"expected the JSON object fortio writes, got {json_type(doc)}")
    if "DurationHistogram" not in doc:
        raise ReaderError(
            NAME, f"no DurationHistogram: this JSON is not a fortio result; {_JSON_HINT}"
        )
    return [convert(doc)]


def written_by_nighthawk(doc: dict[str, Any]) -> bool:
    """True for nighthawk's fortio format: its quirks (string counts, numeric RequestedQPS...)."""
    hist = doc.get("DurationHistogram")
    labels = doc.get("Labels")
    qps = doc.get("RequestedQPS")
    return (
        "BytesSent" in doc
        or "BytesReceived" in doc
        or (isinstance(qps, (int, float)) and not isinstance(qps, bool))
        or (isinstance(hist, dict) and isinstance(hist.get("Count"), str))
        or (isinstance(labels, str) and labels.split()[-1:] == ["Nighthawk"])
    )


def is_grpc(doc: dict[str, Any]) -> bool:
    """gRPC results carry Destination/Streams/Ping, a RunType "GRPC ..." or SERVING codes."""
    run_type = doc.get("RunType")
    codes = doc.get("RetCodes")
    return (
        (isinstance(run_type, str) and run_type.upper().startswith("GRPC"))
        or any(key in doc for key in ("Destination", "Streams", "Ping"))
        or (isinstance(codes, dict) and "SERVING" in codes)
    )


def convert(
    doc: Any, *, format: str = NAME, path: str = "", generator: str | None = None
) -> PerformanceTestResult:
    """One fortio result object -> SMP. ``generator`` overrides the load generator's name
    (Meshery's "load-generator"); ``path`` prefixes field names in error messages."""
    top = Fields(doc, path, format)
    nighthawk = generator == "nighthawk" or written_by_nighthawk(top.obj)
    grpc = is_grpc(top.obj)
    hist = Fields(top.obj.get("DurationHistogram"), top.where("DurationHistogram"), format)
    buckets, percents = _buckets(hist)
    request_count = hist.count("Count")
    if request_count is None and buckets:
        request_count = sum(b.count for b in buckets)
    listed = _listed_percentiles(hist)
    latencies = Latencies()
    if request_count:
        latencies = _latencies(hist, buckets, listed)
        if nighthawk:  # the buckets are nighthawk's percentile rows: read them its way
            for name, q in PERCENTILES:
                if name not in listed:
                    rows = zip(percents, buckets, strict=True)
                    hit = next((b.end_ms for p, b in rows if p is not None and p >= q - 1e-9), None)
                    setattr(latencies, name, getattr(latencies, name) if hit is None else hit)

    status = _status_codes(top, grpc=grpc, nighthawk=nighthawk)
    errors_hist = top.child("ErrorsDurationHistogram")
    counted = None if errors_hist is None else errors_hist.count("Count")
    error_count = None if nighthawk else _error_count(status, grpc, counted)
    latencies_ok = (
        _successful(buckets, errors_hist) if error_count and errors_hist is not None else None
    )

    if nighthawk and status:  # its histogram leaves out each worker's warm-up request
        request_count = max(request_count or 0, sum(status.values()))
    duration_s, legacy = _duration_s(top, nighthawk)
    actual_qps, requested_qps = top.number("ActualQPS"), _requested_qps(top)
    connections = top.count("NumThreads")
    if legacy:  # per-worker figures without the worker count: see the module docstring
        requested_qps = connections = None
        actual_qps = request_count / duration_s if request_count and duration_s else None
    start = top.obj.get("StartTime")
    start_time = None if start is None else parse_timestamp(start, top.where("StartTime"), format)

    name = generator or ("nighthawk" if nighthawk else "fortio")
    version = top.text("Version") if name in ("fortio", "nighthawk") else None
    url, run_labels = top.text("URL") or top.text("Destination"), top.text("Labels")
    labels = {k: v for k, v in (("url", url), ("run_labels", run_labels)) if v}
    return PerformanceTestResult(
        latencies_ms=latencies,
        actual_qps=actual_qps,
        start_time=start_time,
        end_time=end_time(start_time, duration_s, top, "ActualDuration"),
        duration_s=duration_s,
        latencies_ok_ms=latencies_ok,
        requested_qps=requested_qps,
        request_count=request_count,
        error_count=error_count,
        status_codes=status,
        histogram=buckets,
        load_generator=LoadGenerator(name, version or None),
        protocol="grpc" if grpc else "http",
        connections=connections,
        labels=labels,
    )


def _successful(buckets: list[HistogramBucket], errors_hist: Fields) -> Latencies | None:
    """Latencies of the successful calls: all calls' buckets minus the failed calls' ones.

    None when the two histograms do not line up bucket for bucket (then nothing
    can be separated) or when no call succeeded.
    """
    failed, _ = _buckets(errors_hist)
    remaining = {(b.start_ms, b.end_ms): b.count for b in buckets}
    for bucket in failed:
        key = (bucket.start_ms, bucket.end_ms)
        if remaining.get(key, 0) < bucket.count:
            return None
        remaining[key] -= bucket.count
    kept = [HistogramBucket(start, end, n) for (start, end), n in remaining.items() if n > 0]
    if not kept:
        return None
    return summary_from_buckets(sorted(kept, key=lambda b: (b.start_ms, b.end_ms)))


def _buckets(hist: Fields) -> tuple[list[HistogramBucket], list[float | None]]:
    """The Data buckets in ms, and the cumulative Percent written with each."""
    out: list[HistogramBucket] = []
    percents: list[float | None] = []
    data = hist.array("Data")
    for index, entry in enumerate(data):
        bucket = Fields(entry, f"{hist.where('Data')}[{index}]", hist.format)
        start, end = bucket.need_number("Start"), bucket.need_number("End")
        if end < start:
            bucket.fail("End", f"({end}) is below Start ({start})")
        out.append(HistogramBucket(start * 1e3, end * 1e3, bucket.need_count("Count")))
        percents.append(bucket.number("Percent"))
    return out, percents


def _listed_percentiles(hist: Fields) -> dict[str, float]:
    found: dict[str, float] = {}
    for index, entry in enumerate(hist.array("Percentiles")):
        row = Fields(entry, f"{hist.where('Percentiles')}[{index}]", hist.format)
        percentile, value = row.need_number("Percentile"), row.need_number("Value")
        for name, q in PERCENTILES:
            if abs(percentile - q) < 1e-9:
                found[name] = value * 1e3
    return found


def _latencies(hist: Fields, buckets: list[HistogramBucket], listed: dict[str, float]) -> Latencies:
    def ms(key: str) -> float | None:
        value = hist.number(key)
        return None if value is None else value * 1e3

    with_counts = [b for b in buckets if b.count > 0]
    latencies = Latencies(min=ms("Min"), average=ms("Avg"), max=ms("Max"))
    if latencies.min is None and with_counts:
        latencies.min = with_counts[0].start_ms
    if latencies.max is None and with_counts:
        latencies.max = with_counts[-1].end_ms
    _fill_percentiles(latencies, buckets, listed, hist.format, hist.where("Data"))
    return latencies


def _fill_percentiles(
    latencies: Latencies,
    buckets: list[HistogramBucket],
    listed: dict[str, float],
    format: str,
    where: str,
) -> None:
    """Listed percentiles as they are; the others interpolated from the buckets."""
    for name, q in PERCENTILES:
        value = listed.get(name)
        if value is None and any(b.count for b in buckets):
            try:
                value = percentile_from_buckets(buckets, q)
            except HistogramError as exc:
                raise ReaderError(format, f"{where}: {exc}") from None
        setattr(latencies, name, value)


def _error_count(status: dict[str, int], grpc: bool, counted: int | None) -> int | None:
    """Calls whose code is not 2xx (HTTP) / SERVING (gRPC); at least ``counted``."""
    errors: int | None = None
    if status:
        errors = sum(n for code, n in status.items() if not _is_ok(code, grpc))
    if counted is not None:
        errors = max(errors or 0, counted)
    return errors


def _status_codes(top: Fields, *, grpc: bool, nighthawk: bool) -> dict[str, int]:
    codes = top.child("RetCodes")
    if codes is None:
        return {}
    status: dict[str, int] = {}
    for key in codes.obj:
        count = codes.need_count(key)
        name = key
        if grpc and key == "1":
            name = "SERVING"  # fortio < 1.0 wrote the health enum's number
        elif nighthawk and key == "200":
            name = "2xx"  # nighthawk writes its benchmark.http_2xx counter here
        status[name] = status.get(name, 0) + count
    return status


def _is_ok(code: str, grpc: bool) -> bool:
    if grpc:
        return code == "SERVING"
    if code == "2xx":
        return True
    return code.lstrip("-").isdigit() and 200 <= int(code) < 300


def _requested_qps(top: Fields) -> float | None:
    value = top.obj.get("RequestedQPS")
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "max":
            return None
        if not _DECIMAL.fullmatch(text):
            top.fail("RequestedQPS", f'must be a number or "max", got {value!r}')
        qps: float | None = float(text)
    else:
        qps = top.number("RequestedQPS")
    if qps is None or qps <= 0:
        return None  # fortio: 0 or negative means "as fast as possible"
    return qps


def _duration_s(top: Fields, nighthawk: bool) -> tuple[float | None, bool]:
    """ActualDuration in seconds, and whether it came from nighthawk's pre-2020 output."""
    actual = top.number("ActualDuration")
    if actual is None:
        return None, False
    if actual < 0:
        top.fail("ActualDuration", f"must not be negative, got {actual:g}")
    if nighthawk:
        try:
            requested_ms = top.duration_ms("RequestedDuration")
        except ReaderError:  # fortio also writes e.g. "exactly 100 calls"
            requested_ms = None
        if requested_ms is not None and requested_ms >= 1e3 and actual == requested_ms / 1e3:
            return actual, True  # nighthawk before 2020 wrote the requested seconds here
    return actual / 1e9, False


# --- fortio's console text -------------------------------------------------------------

_TEXT_SIGNS = re.compile(
    r"^(Aggregated Function Time : count \d|Fortio \S+ running at \S+ queries per second)", re.M
)
_N = r"(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"  # a plain non-negative number: no NaN, no inf
_T_VERSION = re.compile(r"^Fortio (\S+) running at", re.M)
_T_START = re.compile(rf"^Starting at (max|{_N}) qps with (\d+) thread\(s\)", re.M)
_T_ENDED = re.compile(r"^Ended after (\d\S*) : (\d+) calls", re.M)
_T_AGG = re.compile(
    rf"^Aggregated Function Time : count (\d+) avg {_N} \+/- \S+ min {_N} max {_N}", re.M
)
_T_BUCKET = re.compile(rf"^(?:>= {_N} )?<=? {_N} , \S+ , [\d.]+, (\d+)\s*$", re.M)
_T_TARGET = re.compile(rf"^# target {_N}% {_N}\s*$", re.M)
_T_CODE = re.compile(r"^Code\s+(-?\d+)\s*:\s*(\d+)", re.M)
_T_GRPC = re.compile(r"^(?:Ping|Health) (\w+)\s*:\s*(\d+)", re.M)
_T_ERRORS = re.compile(r"^Error cases : count (\d+)", re.M)


def _read_text(text: str) -> PerformanceTestResult:
    agg = _T_AGG.search(text)
    ended = _T_ENDED.search(text)
    if agg is None or ended is None:
        missing = "'Aggregated Function Time'" if agg is None else "'Ended after'"
        raise ReaderError(
            NAME, f"fortio text output without its {missing} summary (truncated?); {_JSON_HINT}"
        )
    count, avg, low, high = int(agg[1]), float(agg[2]), float(agg[3]), float(agg[4])
    buckets: list[HistogramBucket] = []
    for match in _T_BUCKET.finditer(text):
        start = float(match[1]) if match[1] else (buckets[-1].end_ms / 1e3 if buckets else low)
        buckets.append(HistogramBucket(start * 1e3, float(match[2]) * 1e3, int(match[3])))
    listed = {float(m[1]): float(m[2]) * 1e3 for m in _T_TARGET.finditer(text)}
    latencies = Latencies(min=low * 1e3, average=avg * 1e3, max=high * 1e3)
    named = {n: v for n, q in PERCENTILES for p, v in listed.items() if abs(p - q) < 1e-9}
    if count:
        _fill_percentiles(latencies, buckets, named, NAME, "fortio text output")
    grpc_rows = _T_GRPC.findall(text)
    grpc = bool(grpc_rows) or "Starting GRPC" in text
    status: dict[str, int] = {}
    for code, n in grpc_rows or _T_CODE.findall(text):
        status[code] = status.get(code, 0) + int(n)
    errors = _T_ERRORS.search(text)
    error_count = _error_count(status, grpc, int(errors[1]) if errors else None)
    duration_s = duration_to_ms(ended[1], NAME) / 1e3
    calls = int(ended[2])
    starting = _T_START.search(text)
    requested = None if starting is None or starting[1] == "max" else float(starting[1])
    if duration_s <= 0:
        raise ReaderError(NAME, f"fortio text output: 'Ended after {ended[1]}' is not a duration")
    version = _T_VERSION.search(text)
    return PerformanceTestResult(
        latencies_ms=latencies,
        actual_qps=calls / duration_s,
        duration_s=duration_s,
        requested_qps=requested if requested else None,
        request_count=count,
        error_count=error_count,
        status_codes=status,
        histogram=buckets,
        load_generator=LoadGenerator("fortio", version[1] if version else None),
        protocol="grpc" if grpc else "http",
        connections=int(starting[3]) if starting else None,
    )
