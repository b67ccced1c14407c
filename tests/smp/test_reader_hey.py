"""hey reader: text summaries and -o csv, seconds to ms, truncated and garbled input."""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from smp.errors import ReaderError
from smp.model import PerformanceTestResult
from smp.readers import hey

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
SUMMARY = SAMPLES / "hey" / "hey_summary.txt"
DURATION_RATE = SAMPLES / "hey" / "hey_duration_rate.txt"
CSV_OUTPUT = SAMPLES / "hey" / "hey_output.csv"
CSV_HEADER = (
    "response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset"
)


def claimed_by(sniff: Callable[[bytes], bool]) -> set[str]:
    return {
        path.relative_to(SAMPLES).as_posix()
        for path in sorted(SAMPLES.rglob("*"))
        if path.is_file() and sniff(path.read_bytes())
    }


def read_one(data: bytes) -> PerformanceTestResult:
    (result,) = hey.read(data)
    return result


def write(tmp_path: Path, text: str) -> bytes:
    path = tmp_path / "hey.out"
    path.write_text(text, encoding="utf-8")
    return path.read_bytes()


# --- summary samples ----------------------------------------------------------------------


def test_it_converts_the_hey_summary_from_seconds_to_milliseconds() -> None:
    result = read_one(SUMMARY.read_bytes())
    latencies = result.latencies_ms
    assert latencies.min == pytest.approx(0.1)  # Fastest: 0.0001 secs
    assert latencies.average == pytest.approx(2.0)  # Average: 0.0020 secs
    assert latencies.max == pytest.approx(9.7)  # Slowest: 0.0097 secs
    assert latencies.p50 == pytest.approx(1.3)
    assert latencies.p90 == pytest.approx(5.4)
    assert latencies.p95 == pytest.approx(5.7)
    assert latencies.p99 == pytest.approx(6.6)
    assert latencies.p999 is None  # hey stops at 99%


def test_it_reads_hey_counts_rate_and_status_codes() -> None:
    result = read_one(SUMMARY.read_bytes())
    assert result.actual_qps == pytest.approx(4329.5264)
    assert result.duration_s == pytest.approx(0.4619)
    assert result.status_codes == {"200": 1978, "503": 22}
    assert result.request_count == 2000
    assert result.error_count == 22  # the 503s
    assert result.requested_qps is None
    assert result.connections is None
    assert result.load_generator is not None and result.load_generator.name == "hey"


def test_it_reads_the_duration_and_rate_limited_hey_run() -> None:
    result = read_one(DURATION_RATE.read_bytes())
    assert result.latencies_ms.p50 == pytest.approx(1.6)
    assert result.latencies_ms.p99 == pytest.approx(6.4)
    assert result.latencies_ms.min == pytest.approx(0.6)
    assert result.latencies_ms.max == pytest.approx(10.0)
    assert result.actual_qps == pytest.approx(199.3077)
    assert result.duration_s == pytest.approx(3.0104)
    assert result.status_codes == {"200": 595, "503": 5}
    assert result.request_count == 600
    assert result.error_count == 5
    assert result.requested_qps is None  # -q is per worker and not printed


def test_it_builds_buckets_from_the_response_time_histogram() -> None:
    result = read_one(SUMMARY.read_bytes())
    buckets = result.histogram
    assert sum(b.count for b in buckets) == 2000
    # first bucket holds only the fastest request; the next starts at the previous mark
    assert (buckets[0].start_ms, buckets[0].end_ms, buckets[0].count) == (0.1, 0.1, 1)
    assert (buckets[1].start_ms, buckets[1].count) == (0.1, 853)
    assert buckets[1].end_ms == pytest.approx(1.06)  # 0.0001 + (0.0097 - 0.0001) / 10
    # contiguous, except where hey's empty "0.009 [0]" bucket is left out
    assert all(a.end_ms <= b.start_ms for a, b in itertools.pairwise(buckets))
    assert buckets[-1].start_ms == pytest.approx(8.74)
    assert buckets[-1].end_ms == 9.7
    printed = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0]  # marks with count > 0
    assert [b.count for b in buckets] == [1, 853, 409, 343, 38, 9, 290, 45, 10, 2]
    for bucket, mark in zip(buckets, printed, strict=True):
        assert abs(bucket.end_ms - mark) <= 0.5


def test_it_keeps_refined_marks_inside_what_the_printed_mark_allows() -> None:
    result = read_one(DURATION_RATE.read_bytes())
    # printed "0.001 [286]": hey's formula gives 1.54 ms, the printed mark allows <= 1.5 ms
    assert result.histogram[1].end_ms == pytest.approx(1.5)
    assert sum(b.count for b in result.histogram) == 600


def test_it_counts_transport_errors_into_requests_and_errors(tmp_path: Path) -> None:
    text = SUMMARY.read_text().rstrip("\n") + (
        "\nError distribution:\n"
        "  [3]\tGet http://127.0.0.1:18080/: dial tcp 127.0.0.1:18080: connection refused\n"
        "  [2]\tGet http://127.0.0.1:18080/: context deadline exceeded\n"
    )
    result = read_one(write(tmp_path, text))
    assert result.request_count == 2005
    assert result.error_count == 27


def test_it_skips_the_empty_percentile_slots_hey_prints(tmp_path: Path) -> None:
    text = SUMMARY.read_text().replace("  99% in 0.0066 secs", "  0% in 0.0000 secs")
    result = read_one(write(tmp_path, text))
    assert result.latencies_ms.p99 is None
    assert result.latencies_ms.p95 == pytest.approx(5.7)


# --- csv ----------------------------------------------------------------------------------


def test_it_computes_exact_nearest_rank_percentiles_from_the_csv() -> None:
    result = read_one(CSV_OUTPUT.read_bytes())
    latencies = result.latencies_ms
    assert latencies.p50 == pytest.approx(1.3)
    assert latencies.p90 == pytest.approx(5.3)
    assert latencies.p95 == pytest.approx(5.4)
    assert latencies.p99 == pytest.approx(5.6)
    assert latencies.min == pytest.approx(0.2)
    assert latencies.max == pytest.approx(5.6)
    assert latencies.average == pytest.approx(1.7996667, abs=1e-6)
    assert latencies.p999 is None  # 300 rows: a p99.9 would just be the max


def test_it_matches_an_independent_computation_over_the_csv_rows() -> None:
    with CSV_OUTPUT.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    times = sorted(float(r["response-time"]) * 1e3 for r in rows)
    n = len(times)
    result = read_one(CSV_OUTPUT.read_bytes())
    for field, q in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        expected = times[math.ceil(q * n / 100) - 1]
        assert getattr(result.latencies_ms, field) == pytest.approx(expected)
    end = max(float(r["offset"]) + float(r["response-time"]) for r in rows)
    assert result.duration_s == pytest.approx(end)
    assert result.actual_qps == pytest.approx(n / end)


def test_it_reads_csv_counts_status_codes_and_duration() -> None:
    result = read_one(CSV_OUTPUT.read_bytes())
    assert result.request_count == 300
    assert result.status_codes == {"200": 297, "503": 3}
    assert result.error_count == 3
    assert result.duration_s == pytest.approx(0.1272)  # last offset + its response time
    assert result.actual_qps == pytest.approx(300 / 0.1272)
    assert sum(b.count for b in result.histogram) == 300
    assert result.labels["hey.output"] == "csv"


def test_nearest_rank_takes_the_value_at_rank_ceil_q_n(tmp_path: Path) -> None:
    rows = [f"0.{ms:04d},0,0,0,0,0,200,0.{ms:04d}" for ms in range(10, 110, 10)]  # 1..10 ms
    result = read_one(write(tmp_path, CSV_HEADER + "\n" + "\n".join(rows) + "\n"))
    assert result.latencies_ms.p50 == pytest.approx(5.0)
    assert result.latencies_ms.p90 == pytest.approx(9.0)
    assert result.latencies_ms.p95 == pytest.approx(10.0)
    assert result.latencies_ms.p99 == pytest.approx(10.0)


def test_it_reports_csv_p999_from_a_thousand_rows(tmp_path: Path) -> None:
    rows = [f"{i / 1e4:.4f},0,0,0,0,0,200,0.0000" for i in range(1, 1001)]
    result = read_one(write(tmp_path, CSV_HEADER + "\n" + "\n".join(rows) + "\n"))
    assert result.latencies_ms.p999 == pytest.approx(99.9)
    assert result.latencies_ms.max == pytest.approx(100.0)


# --- truncated and garbled ----------------------------------------------------------------


def test_it_names_the_missing_status_code_section_of_truncated_output() -> None:
    text = SUMMARY.read_text()
    truncated = text[: text.index("Status code distribution:")]
    with pytest.raises(ReaderError, match="hey: 'Status code distribution:' section is missing"):
        hey.read(truncated.encode())


def test_every_truncation_before_the_status_codes_raises_a_reader_error() -> None:
    text = DURATION_RATE.read_text()
    for cut in range(0, text.index("Status code distribution:"), 5):
        with pytest.raises(ReaderError):
            hey.read(text[:cut].encode())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("Total:\t0.4619 secs", "Total:\tabc secs", r"line 3: Total 'abc' is not a number"),
        ("Requests/sec:\t4329.5264", "Requests/sec:\tNaN", r"Requests/sec is 'NaN'"),
        ("  Slowest:\t0.0097 secs\n", "", r"Summary 'Slowest' line is missing"),
        ("  [503]\t22 responses", "  [503]\ttwenty responses", r"malformed 'Status code"),
        ("  50% in 0.0013 secs", "  50% in 1,3 secs", r"50% latency '1,3' is not a number"),
        ("  0.002 [409]", "  0.002 409", r"malformed 'Response time histogram' line"),
    ],
)
def test_it_explains_garbled_summary_lines(old: str, new: str, message: str) -> None:
    text = SUMMARY.read_text()
    assert old in text
    with pytest.raises(ReaderError, match=message):
        hey.read(text.replace(old, new).encode())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("0.0022,0.0002,x,0.0001,0.0015,0.0003,200,0.0002", r"line 2, column 'DNS': 'x' is not"),
        ("0.0022,0.0002,0.0000,0.0001,0.0015,0.0003,200", r"line 2: 7 cells, expected 8"),
        ("0.0022,0.0002,0.0000,0.0001,0.0015,0.0003,2.5,0.0002", r"'status-code': 2.5 is no"),
        ("", r"the CSV has a header but no request rows"),
        ('"0.0022,0.0002', r"line \d+: "),
    ],
)
def test_it_explains_bad_csv_rows(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ReaderError, match=message):
        hey.read(write(tmp_path, CSV_HEADER + "\n" + body + "\n"))


def test_it_rejects_a_csv_with_another_header(tmp_path: Path) -> None:
    data = write(tmp_path, "response-time,status-code\n0.1,200\n")
    with pytest.raises(ReaderError, match="CSV header must be"):
        hey.read(data)


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00", b"Summary:\n", b"{}"])
def test_junk_raises_reader_errors_only(data: bytes) -> None:
    with pytest.raises(ReaderError):
        hey.read(data)


# --- sniffing -----------------------------------------------------------------------------


def test_hey_sniff_claims_exactly_the_hey_samples() -> None:
    assert claimed_by(hey.sniff) == {
        "hey/hey_summary.txt",
        "hey/hey_duration_rate.txt",
        "hey/hey_output.csv",
    }


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00", b"Summary:", b"\x00" * 64])
def test_hey_sniff_never_raises(data: bytes) -> None:
    assert hey.sniff(data) is False
