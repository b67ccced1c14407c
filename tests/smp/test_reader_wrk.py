"""wrk and wrk2 readers: real samples, unit switching, truncated and garbled output."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from smp.errors import ReaderError
from smp.model import PerformanceTestResult
from smp.readers import wrk, wrk2

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
WRK_BASIC = SAMPLES / "wrk" / "wrk_basic.txt"
WRK_LATENCY = SAMPLES / "wrk" / "wrk_latency.txt"
WRK2_LATENCY = SAMPLES / "wrk2" / "wrk2_latency.txt"


def claimed_by(sniff: Callable[[bytes], bool]) -> set[str]:
    return {
        path.relative_to(SAMPLES).as_posix()
        for path in sorted(SAMPLES.rglob("*"))
        if path.is_file() and sniff(path.read_bytes())
    }


def wrk_text(
    latency_row: str = "    Latency     1.95ms    1.78ms   9.52ms   76.13%",
    distribution: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    requests_line: str = "  17277 requests in 3.10s, 4.40MB read",
) -> str:
    lines = [
        "Running 3s test @ http://127.0.0.1:18080/",
        "  2 threads and 10 connections",
        "  Thread Stats   Avg      Stdev     Max   +/- Stdev",
        latency_row,
        "    Req/Sec     2.80k   468.50     3.47k    75.81%",
        *(["  Latency Distribution", *distribution] if distribution else []),
        requests_line,
        *extra,
        "Requests/sec:   5573.60",
        "Transfer/sec:      1.42MB",
    ]
    return "\n".join(lines) + "\n"


def read_file(
    tmp_path: Path, text: str, reader: Callable[[bytes], list[PerformanceTestResult]]
) -> PerformanceTestResult:
    path = tmp_path / "out.txt"
    path.write_text(text, encoding="utf-8")
    (result,) = reader(path.read_bytes())
    return result


# --- real samples -------------------------------------------------------------------------


def test_it_reads_the_basic_wrk_sample_figures() -> None:
    (result,) = wrk.read(WRK_BASIC.read_bytes())
    assert result.latencies_ms.average == pytest.approx(1.95)
    assert result.latencies_ms.max == pytest.approx(9.52)
    assert result.latencies_ms.min is None  # wrk does not print a minimum
    assert result.latencies_ms.p50 is None  # no --latency block in this run
    assert result.actual_qps == pytest.approx(5573.60)
    assert result.request_count == 17277
    assert result.duration_s == pytest.approx(3.10)
    assert result.error_count == 183
    assert result.status_codes == {"non_2xx_3xx": 183}
    assert result.connections == 10
    assert result.requested_qps is None
    assert result.histogram == []
    assert result.load_generator is not None and result.load_generator.name == "wrk"
    assert result.labels["wrk.threads"] == "2"


def test_it_reads_the_wrk_latency_distribution_percentiles() -> None:
    (result,) = wrk.read(WRK_LATENCY.read_bytes())
    latencies = result.latencies_ms
    assert latencies.p50 == pytest.approx(1.21)
    assert latencies.p90 == pytest.approx(5.18)
    assert latencies.p99 == pytest.approx(5.49)
    assert latencies.p95 is None and latencies.p999 is None
    assert latencies.average == pytest.approx(1.83)
    assert latencies.max == pytest.approx(20.57)
    assert result.request_count == 16159
    assert result.error_count == 169
    assert result.actual_qps == pytest.approx(5213.13)


def test_it_maps_the_corrected_wrk2_latencies() -> None:
    (result,) = wrk2.read(WRK2_LATENCY.read_bytes())
    latencies = result.latencies_ms
    assert latencies.p50 == pytest.approx(1.85)
    assert latencies.p90 == pytest.approx(6.16)
    assert latencies.p99 == pytest.approx(6.85)
    assert latencies.p999 == pytest.approx(8.21)
    assert latencies.p95 == pytest.approx(6.471)  # spectrum row at percentile 0.950000
    assert latencies.min == pytest.approx(0.268)  # first spectrum Value
    assert latencies.max == pytest.approx(10.672)  # "#[Max = 10.672"
    assert latencies.average == pytest.approx(2.543)  # "#[Mean = 2.543"
    assert result.load_generator is not None and result.load_generator.name == "wrk2"


def test_it_takes_wrk2_request_count_from_requests_in_not_from_the_histogram() -> None:
    (result,) = wrk2.read(WRK2_LATENCY.read_bytes())
    assert result.request_count == 7500
    assert sum(b.count for b in result.histogram) == 2486
    assert result.labels["wrk2.histogram_total_count"] == "2486"
    assert result.duration_s == pytest.approx(15.0)
    assert result.actual_qps == pytest.approx(499.94)
    assert result.error_count == 68
    assert result.status_codes == {"non_2xx_3xx": 68}
    assert result.requested_qps is None  # wrk2 does not print its -R rate
    assert result.connections == 10


def test_it_turns_the_wrk2_spectrum_into_histogram_buckets() -> None:
    (result,) = wrk2.read(WRK2_LATENCY.read_bytes())
    buckets = result.histogram
    assert (buckets[0].start_ms, buckets[0].end_ms, buckets[0].count) == (0.268, 0.268, 1)
    assert (buckets[1].start_ms, buckets[1].end_ms, buckets[1].count) == (0.268, 0.807, 248)
    assert (buckets[2].start_ms, buckets[2].end_ms, buckets[2].count) == (0.807, 1.100, 249)
    assert all(b.count > 0 and b.start_ms <= b.end_ms for b in buckets)
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(buckets))
    # the last spectrum Value (10.679) is a bucket bound above the exact max
    assert buckets[-1].end_ms == pytest.approx(10.672)


def test_it_puts_wrk2_uncorrected_percentiles_into_labels(tmp_path: Path) -> None:
    text = WRK2_LATENCY.read_text()
    start = text.index("  Latency Distribution (HdrHistogram - Recorded Latency)")
    end = text.index("-" * 58 + "\n") + 59
    uncorrected = (
        text[start:end]
        .replace("Recorded Latency", "Uncorrected Latency (measured without taking delayed starts")
        .replace("starts)", "starts into account))", 1)
        .replace(" 50.000%    1.85ms", " 50.000%    1.02ms")
    )
    result = read_file(tmp_path, text[:end] + "\n" + uncorrected + text[end:], wrk2.read)
    assert result.latencies_ms.p50 == pytest.approx(1.85)
    labels = result.labels
    assert labels["wrk2.uncorrected.p50"] == "1.02"
    assert labels["wrk2.uncorrected.p99"] == "6.85"
    assert labels["wrk2.uncorrected.max"] == "10.672"


# --- units --------------------------------------------------------------------------------


def test_it_converts_wrk_microseconds_to_milliseconds(tmp_path: Path) -> None:
    row = "    Latency   850.00us  120.00us   1.20s    90.00%"
    result = read_file(tmp_path, wrk_text(latency_row=row), wrk.read)
    assert result.latencies_ms.average == pytest.approx(0.85)
    assert result.latencies_ms.max == pytest.approx(1200.0)


def test_it_converts_wrk_minutes_and_seconds_with_their_trailing_space(tmp_path: Path) -> None:
    row = "    Latency     1.20s     0.50s     1.50m    90.00%"
    text = wrk_text(latency_row=row, requests_line="  1200 requests in 1.00m, 4.40MB read")
    result = read_file(tmp_path, text, wrk.read)
    assert result.latencies_ms.average == pytest.approx(1200.0)
    assert result.latencies_ms.max == pytest.approx(90000.0)
    assert result.duration_s == pytest.approx(60.0)


def test_it_switches_units_inside_the_latency_distribution(tmp_path: Path) -> None:
    distribution = (
        "     50%  850.00us",
        "     75%    1.20ms",
        "     90%    1.20s ",
        "     99%    1.00m ",
    )
    result = read_file(tmp_path, wrk_text(distribution=distribution), wrk.read)
    latencies = result.latencies_ms
    assert latencies.p50 == pytest.approx(0.85)
    assert latencies.p90 == pytest.approx(1200.0)
    assert latencies.p99 == pytest.approx(60000.0)


def test_it_sums_socket_errors_and_bad_statuses_into_error_count(tmp_path: Path) -> None:
    extra = (
        "  Socket errors: connect 1, read 2, write 3, timeout 4",
        "  Non-2xx or 3xx responses: 10",
    )
    result = read_file(tmp_path, wrk_text(extra=extra), wrk.read)
    assert result.error_count == 20
    assert result.status_codes == {"non_2xx_3xx": 10}
    assert result.labels["wrk.socket_errors.timeout"] == "4"


def test_it_reports_no_status_codes_when_wrk_saw_no_bad_status(tmp_path: Path) -> None:
    result = read_file(tmp_path, wrk_text(), wrk.read)
    assert result.error_count == 0
    assert result.status_codes == {}


def test_it_reads_one_result_per_concatenated_wrk_run() -> None:
    data = WRK_BASIC.read_bytes() + WRK_LATENCY.read_bytes()
    first, second = wrk.read(data)
    assert first.request_count == 17277
    assert second.request_count == 16159


def test_it_ignores_lines_before_running_and_windows_line_endings() -> None:
    data = b"$ wrk -t2 -c10 -d3s http://127.0.0.1:18080/\r\n" + WRK_LATENCY.read_bytes().replace(
        b"\n", b"\r\n"
    )
    (result,) = wrk.read(data)
    assert result.latencies_ms.p99 == pytest.approx(5.49)


# --- truncated and garbled ----------------------------------------------------------------


def test_it_names_the_missing_requests_per_sec_line_for_truncated_wrk_output() -> None:
    text = WRK_LATENCY.read_text()
    truncated = text[: text.index("Requests/sec:")]
    with pytest.raises(ReaderError, match=r"wrk: 'Requests/sec' line is missing; is this complete"):
        wrk.read(truncated.encode())


@pytest.mark.parametrize("path", [WRK_BASIC, WRK_LATENCY, WRK2_LATENCY], ids=lambda p: p.name)
def test_every_truncation_before_requests_per_sec_raises_a_reader_error(path: Path) -> None:
    reader = wrk2.read if "wrk2" in path.name else wrk.read
    text = path.read_text()
    end = text.index("Requests/sec:")
    for cut in range(0, end, 7):
        with pytest.raises(ReaderError):
            reader(text[:cut].encode())


def test_it_names_the_missing_wrk2_spectrum_summary() -> None:
    text = WRK2_LATENCY.read_text()
    without_footer = text.replace(text[text.index("#[Mean") : text.index("#[Buckets")], "")
    with pytest.raises(ReaderError, match=r"wrk2: .*'#\[Mean \.\.\.\]'.* line is missing"):
        wrk2.read(without_footer.encode())


def test_it_rejects_a_spectrum_that_disagrees_with_its_total_count() -> None:
    text = WRK2_LATENCY.read_text().replace("Total count    =         2486", "Total count = 2487")
    with pytest.raises(ReaderError, match="Total count = 2487"):
        wrk2.read(text.encode())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("Requests/sec:   5573.60", "Requests/sec:   lots", r"Requests/sec 'lots' is not a number"),
        ("1.95ms    1.78ms", "1.95xs    1.78ms", r"Thread Stats Latency Avg '1.95xs' is not a"),
        ("17277 requests in 3.10s", "17277 requests in 3.10", r"'requests in' duration '3.10'"),
        ("4.40MB read", "4.40MB", r"line 6: malformed 'N requests in' line"),
        ("Non-2xx or 3xx responses: 183", "Non-2xx or 3xx responses: many", r"line 7: malformed"),
        ("    Latency     1.95ms", "    Latency", r"malformed Thread Stats 'Latency' line"),
    ],
)
def test_it_explains_garbled_wrk_lines(old: str, new: str, message: str) -> None:
    text = WRK_BASIC.read_text()
    assert old in text
    with pytest.raises(ReaderError, match=message):
        wrk.read(text.replace(old, new).encode())


def test_it_explains_a_garbled_wrk2_spectrum_row() -> None:
    text = WRK2_LATENCY.read_text().replace(
        "       1.100     0.200000", "       1.100     0.2x0000"
    )
    with pytest.raises(ReaderError, match=r"wrk2: line \d+: malformed percentile spectrum line"):
        wrk2.read(text.encode())


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00garbage", b"Running nothing", b"{}"])
def test_junk_raises_reader_errors_only(data: bytes) -> None:
    for reader in (wrk.read, wrk2.read):
        with pytest.raises(ReaderError):
            reader(data)


def test_the_wrk_reader_refuses_wrk2_output_and_vice_versa() -> None:
    with pytest.raises(ReaderError, match="wrk2 reader"):
        wrk.read(WRK2_LATENCY.read_bytes())
    with pytest.raises(ReaderError, match="wrk reader"):
        wrk2.read(WRK_LATENCY.read_bytes())


# --- sniffing -----------------------------------------------------------------------------


def test_wrk_sniff_claims_exactly_the_wrk_samples() -> None:
    assert claimed_by(wrk.sniff) == {"wrk/wrk_basic.txt", "wrk/wrk_latency.txt"}


def test_wrk2_sniff_claims_exactly_the_wrk2_sample() -> None:
    assert claimed_by(wrk2.sniff) == {"wrk2/wrk2_latency.txt"}


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00", b"Running", b"\x00" * 100])
def test_wrk_sniffers_never_raise(data: bytes) -> None:
    assert wrk.sniff(data) is False
    assert wrk2.sniff(data) is False
