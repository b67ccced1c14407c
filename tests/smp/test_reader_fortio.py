"""The fortio reader against real fortio and nighthawk outputs in /work/shared/samples.

Every expected figure below was read by hand from the sample file named in the
test (seconds there, milliseconds here).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from smp.errors import ReaderError
from smp.model import LoadGenerator, PerformanceTestResult
from smp.readers import fortio, nighthawk

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
UTC = dt.UTC


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def read_one(name: str) -> PerformanceTestResult:
    results = fortio.read(sample(name))
    assert len(results) == 1
    return results[0]


def mutated(tmp_path: Path, name: str, change: Any) -> bytes:
    doc = json.loads(sample(name))
    change(doc)
    path = tmp_path / "mutated.json"
    path.write_text(json.dumps(doc))
    return path.read_bytes()


def all_sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.name != "SOURCES.md")


# --- fortio's own JSON ---------------------------------------------------------------


def test_it_converts_fortio_seconds_to_milliseconds() -> None:
    lat = read_one("fortio/fortio_0.8.1_http_golden.json").latencies_ms
    assert lat.min == pytest.approx(3.599691)  # Min 0.003599691 s
    assert lat.average == pytest.approx(26.19005172675)
    assert lat.max == pytest.approx(189.759494)
    assert lat.p50 == pytest.approx(23.16149297856615)  # Percentiles[50]
    assert lat.p90 == pytest.approx(43.1190798376184)
    assert lat.p99 == pytest.approx(91.081081081081)
    assert lat.p999 == pytest.approx(158.09523809523834)


def test_it_interpolates_p95_from_the_buckets_when_fortio_did_not_list_it() -> None:
    # golden.json lists no 95th: bucket [0.045, 0.05) takes the cumulative share to exactly 95 %.
    assert read_one("fortio/fortio_0.8.1_http_golden.json").latencies_ms.p95 == pytest.approx(50.0)
    # README result: one bucket [0.00027292, 0.000930407] of 4 calls, 95 % of the way through.
    rest = read_one("fortio/fortio_readme_http_rest_result.json").latencies_ms
    assert rest.p95 == pytest.approx(0.27292 + (0.930407 - 0.27292) * 0.95)


def test_it_reads_counts_rates_and_timing_of_a_fortio_0_8_run() -> None:
    result = read_one("fortio/fortio_0.8.1_http_golden.json")
    assert result.request_count == 12000
    assert result.actual_qps == pytest.approx(399.44483242517316)
    assert result.requested_qps == 400.0  # "400" as a string
    assert result.duration_s == pytest.approx(30.041695438)  # ActualDuration in ns
    assert result.start_time == dt.datetime(2018, 4, 6, 5, 33, 57, 541973, tzinfo=UTC)
    assert result.end_time == result.start_time + dt.timedelta(seconds=30.041695438)
    assert result.connections == 48
    assert result.status_codes == {"200": 12000}
    assert result.error_count == 0
    assert result.protocol == "http"
    assert result.load_generator == LoadGenerator("fortio", "0.8.1")
    assert result.labels["url"] == "http://35.199.42.164/fortio2/echo"


def test_it_keeps_fortio_buckets_as_a_histogram_in_milliseconds() -> None:
    histogram = read_one("fortio/fortio_0.8.1_http_golden.json").histogram
    assert len(histogram) == 27
    first = histogram[0]
    assert (first.start_ms, first.end_ms, first.count) == pytest.approx((3.599691, 4.0, 1))
    assert histogram[-1].end_ms == pytest.approx(189.759494)
    assert sum(b.count for b in histogram) == 12000


def test_it_reads_a_fortio_1_x_run_with_its_listed_p95() -> None:
    result = read_one("fortio/fortio_1.57.3_http_iter8.json")
    lat = result.latencies_ms
    assert (lat.p50, lat.p90, lat.p95, lat.p99) == pytest.approx((14.5714285714, 28.125, 32, 40))
    assert lat.p999 == pytest.approx(40.4410378)
    assert (lat.min, lat.max) == pytest.approx((4.223875, 40.490042))
    assert result.request_count == 100
    assert result.requested_qps == 8.0
    assert result.duration_s == pytest.approx(12.538231589)
    assert result.connections == 4
    assert result.error_count == 0  # RetCodes {"200": 100}, ErrorsDurationHistogram.Count 0
    assert result.load_generator == LoadGenerator("fortio", "1.57.3")


def test_it_counts_non_2xx_codes_as_errors(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["RetCodes"] = {"200": 97, "503": 2, "-1": 1}

    [result] = fortio.read(mutated(tmp_path, "fortio/fortio_1.57.3_http_iter8.json", change))
    assert result.status_codes == {"200": 97, "503": 2, "-1": 1}
    assert result.error_count == 3


def test_it_takes_the_errors_histogram_count_when_it_is_larger(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["ErrorsDurationHistogram"]["Count"] = 4

    [result] = fortio.read(mutated(tmp_path, "fortio/fortio_1.57.3_http_iter8.json", change))
    assert result.error_count == 4


def test_it_reads_a_grpc_ping_result_and_names_the_old_numeric_serving_code() -> None:
    result = read_one("fortio/fortio_0.9.0_grpc_ping_readme.json")
    assert result.protocol == "grpc"
    assert result.status_codes == {"SERVING": 40}  # RetCodes {"1": 40}
    assert result.error_count == 0
    assert result.labels["url"] == "https://fortio-stage.istio.io"  # Destination
    assert result.latencies_ms.p99 == pytest.approx(280.53863092820513)
    assert result.start_time == dt.datetime(2018, 4, 3, 23, 32, 58, 895472, tzinfo=UTC)  # -07:00
    assert result.duration_s == pytest.approx(5.28514474)
    assert (result.requested_qps, result.connections, result.request_count) == (8.0, 8, 40)


def test_it_counts_grpc_codes_other_than_serving_as_errors(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["RetCodes"] = {"SERVING": 38, "NOT_SERVING": 2}
        del doc["Ping"], doc["Destination"], doc["Streams"]  # still gRPC: RunType and codes

    [result] = fortio.read(mutated(tmp_path, "fortio/fortio_0.9.0_grpc_ping_readme.json", change))
    assert result.protocol == "grpc"
    assert result.error_count == 2


def test_it_reads_requested_qps_max_as_unknown(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["RequestedQPS"] = "max"

    [result] = fortio.read(mutated(tmp_path, "fortio/fortio_1.57.3_http_iter8.json", change))
    assert result.requested_qps is None


# --- nighthawk's fortio format --------------------------------------------------------


def test_it_reads_nighthawks_fortio_format_with_string_counts() -> None:
    result = read_one("fortio/nighthawk_samples_fortio_large.json")
    # Histogram "Count": "17988" leaves out the 12 workers' untimed warm-up requests.
    assert result.request_count == 18000
    assert result.status_codes == {"2xx": 18000}  # nighthawk's 2xx counter under "200"
    assert result.error_count is None  # nighthawk's fortio output has no other code
    assert result.load_generator == LoadGenerator("nighthawk", None)
    assert result.duration_s == 30.0  # pre-2020 nighthawk: whole seconds, not ns
    assert result.end_time == dt.datetime(2019, 10, 18, 19, 30, 3, tzinfo=UTC)
    # Pre-2020: RequestedQPS 50 and NumThreads 1 are per worker, the worker count unwritten;
    # ActualQPS 50 too, so it is recomputed: 18000 requests / 30 s.
    assert (result.requested_qps, result.connections) == (None, None)
    assert result.actual_qps == 600.0
    lat = result.latencies_ms
    assert (lat.min, lat.max) == pytest.approx((0.135935, 19.186687))
    # First bucket whose Percent reaches q: 50, 90, 95, 99.0625, 99.90234375.
    expected = (0.182039, 0.312623, 0.336271, 0.510767, 5.279999)
    assert (lat.p50, lat.p90, lat.p95, lat.p99, lat.p999) == pytest.approx(expected)
    assert lat.average is None  # not written
    assert sum(b.count for b in result.histogram) == 17988


def test_nighthawks_fortio_format_gives_the_figures_of_the_same_run_in_json() -> None:
    for fortio_name, json_name in (
        ("fortio/nighthawk_samples_fortio_large.json", "nighthawk/big_sample.json"),
        ("fortio/nighthawk_samples_fortio_small.json", "nighthawk/full_sample.json"),
    ):
        via_fortio = read_one(fortio_name).latencies_ms
        [via_json] = nighthawk.read(sample(json_name))
        for name in ("min", "p50", "p90", "p95", "p99", "p999", "max"):
            assert getattr(via_fortio, name) == pytest.approx(getattr(via_json.latencies_ms, name))


def test_it_reads_the_early_nighthawk_transform_with_its_version() -> None:
    result = read_one("fortio/nighthawk_transform_fortio_early.json")
    assert result.load_generator == LoadGenerator("nighthawk", "0.3.0")
    # ActualDuration 2 == RequestedDuration "2s": pre-2020 output, per-worker rate/connections.
    assert (result.requested_qps, result.connections, result.duration_s) == (None, None, 2)
    assert result.request_count == 3998  # 2xx 3998 > histogram Count 3996
    assert result.actual_qps == 1999.0  # 3998 / 2 s, as the file says
    assert result.status_codes == {"2xx": 3998}
    lat = result.latencies_ms
    expected = (0.058719, 0.106147, 0.126979, 0.156039, 0.233751, 0.601983, 3.282559)
    got = (lat.min, lat.p50, lat.p90, lat.p95, lat.p99, lat.p999, lat.max)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    "name",
    [
        "nighthawk/output_formatter.medium.fortio.gold",
        "nighthawk/output_formatter.medium.fortio-noquirks.gold",
    ],
)
def test_it_reads_both_nighthawk_fortio_golds_alike(name: str) -> None:
    result = read_one(name)
    assert result.load_generator == LoadGenerator("nighthawk", "0.0.0")
    assert result.duration_s == pytest.approx(2.000000429)  # ns here
    assert result.actual_qps == pytest.approx(27.99999399400129)
    assert (result.requested_qps, result.connections) == (30, 300)
    # Count 53 timed; 56 answered (ActualQPS 27.99999 x 2.000000429 s = 56 sent).
    assert result.request_count == 56
    assert result.status_codes == {"2xx": 56}
    assert result.start_time == dt.datetime(2020, 1, 11, 12, 47, 57, 259885, tzinfo=UTC)
    lat = result.latencies_ms
    assert (lat.min, lat.average) == pytest.approx((53.798911, 78.433106))
    assert (lat.p50, lat.p90, lat.p95) == pytest.approx((65.077247, 85.045247, 247.513087))
    # No 99 listed: the first bucket reaching 99 % is the last one (Percent 100).
    assert (lat.p99, lat.p999, lat.max) == pytest.approx((310.886399, 310.886399, 310.886399))


# --- fortio's console text -------------------------------------------------------------


def test_it_parses_fortios_http_text_output() -> None:
    result = read_one("fortio/fortio_http_text_output_readme.txt")
    lat = result.latencies_ms
    assert (lat.min, lat.average, lat.max) == pytest.approx((52.549016, 60.587641, 89.893269))
    assert (lat.p50, lat.p99, lat.p999) == pytest.approx((60.5556, 85.936, 89.4975))
    # Not printed, so interpolated: 90 % falls (90-47.5)/(92.5-47.5) into [60, 70) ms.
    assert lat.p90 == pytest.approx(60 + 10 * 42.5 / 45)
    assert lat.p95 == pytest.approx(75.0)  # halfway through [70, 80), 92.5 % -> 97.5 %
    assert result.request_count == 40
    assert result.duration_s == pytest.approx(5.059691387)
    assert result.actual_qps == pytest.approx(40 / 5.059691387)
    assert (result.requested_qps, result.connections) == (8.0, 4)
    assert result.status_codes == {"200": 40}
    assert result.error_count == 0
    assert result.start_time is None  # the text has only a time of day
    first = result.histogram[0]  # ">= 0.052549 < 0.06 , 0.0562745 , 47.50, 19"
    assert (first.start_ms, first.end_ms, first.count) == pytest.approx((52.549, 60.0, 19))
    assert result.load_generator == LoadGenerator("fortio", "X.Y.Z")


def test_it_parses_fortios_grpc_text_output() -> None:
    result = read_one("fortio/fortio_grpc_text_output_readme.txt")
    assert result.protocol == "grpc"
    assert result.status_codes == {"SERVING": 40}  # "Ping SERVING : 40"
    assert (result.requested_qps, result.connections, result.request_count) == (8.0, 8, 40)
    assert result.latencies_ms.p99 == pytest.approx(280.539)
    assert result.duration_s == pytest.approx(5.28514474)


def test_it_refuses_text_output_with_a_nonsense_duration() -> None:
    text = sample("fortio/fortio_http_text_output_readme.txt").replace(
        b"Ended after 5.059691387s", b"Ended after 5.059691387pc"
    )
    with pytest.raises(ReaderError, match="is not a duration"):
        fortio.read(text)


def test_it_refuses_truncated_text_output_and_says_how_to_get_json() -> None:
    text = sample("fortio/fortio_http_text_output_readme.txt")
    cut = text[: text.index(b"Aggregated Function Time")]
    with pytest.raises(ReaderError, match=r"text output.*fortio load -json"):
        fortio.read(cut)


# --- malformed input -------------------------------------------------------------------


def test_it_refuses_truncated_json() -> None:
    with pytest.raises(ReaderError, match="malformed JSON"):
        fortio.read(sample("fortio/fortio_1.57.3_http_iter8.json")[:700])


def test_it_refuses_a_number_too_large_for_a_double() -> None:
    text = sample("fortio/fortio_1.57.3_http_iter8.json").replace(
        b'"ActualQPS": 7.975606391552989', b'"ActualQPS": 1e999'
    )
    with pytest.raises(ReaderError, match="1e999 is too large for a number"):
        fortio.read(text)


def test_it_refuses_nan(tmp_path: Path) -> None:
    text = sample("fortio/fortio_1.57.3_http_iter8.json").replace(
        b'"ActualQPS": 7.975606391552989', b'"ActualQPS": NaN'
    )
    with pytest.raises(ReaderError, match="NaN"):
        fortio.read(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["DurationHistogram"].update(Count={"n": 1}),
            "fortio: DurationHistogram.Count must be a number, got object",
        ),
        (
            lambda d: d["DurationHistogram"]["Data"][0].update(Start="0.1"),
            "fortio: DurationHistogram.Data[0].Start must be a number, got string",
        ),
        (
            lambda d: d["DurationHistogram"].update(Data={}),
            "fortio: DurationHistogram.Data must be an array, got object",
        ),
        (
            lambda d: d["DurationHistogram"]["Percentiles"][0].pop("Value"),
            "fortio: DurationHistogram.Percentiles[0].Value is missing",
        ),
        (lambda d: d.update(RetCodes={"200": -1}), "fortio: RetCodes.200 must be a whole number"),
        (lambda d: d.update(RetCodes=[200]), "fortio: RetCodes must be an object, got array"),
        (lambda d: d.update(RequestedQPS="fast"), 'RequestedQPS must be a number or "max"'),
        (lambda d: d.update(NumThreads=True), "NumThreads must be a number, got boolean"),
        (lambda d: d.update(StartTime="2023-07-21T14:00:40"), "StartTime has no timezone"),
        (lambda d: d.update(StartTime="yesterday"), "StartTime must be an RFC 3339 timestamp"),
        (lambda d: d.update(DurationHistogram=[]), "DurationHistogram must be an object"),
        (lambda d: d.update(ActualDuration=-1), "ActualDuration must not be negative"),
        (lambda d: d.update(ActualDuration=1e300), "ActualDuration (1e+291 s) is out of range"),
        (
            lambda d: d["DurationHistogram"]["Data"][1].update(End=0.001),
            "DurationHistogram.Data[1].End (0.001) is below Start",
        ),
    ],
)
def test_it_names_the_field_and_the_rule_of_wrong_types(
    tmp_path: Path, change: Any, message: str
) -> None:
    data = mutated(tmp_path, "fortio/fortio_1.57.3_http_iter8.json", change)
    with pytest.raises(ReaderError, match=re.escape(message)):
        fortio.read(data)


def test_it_refuses_json_that_is_not_a_fortio_result() -> None:
    with pytest.raises(ReaderError, match="no DurationHistogram"):
        fortio.read(b'{"metrics": {}}')
    with pytest.raises(ReaderError, match="got array"):
        fortio.read(b"[1, 2]")


# --- detection -------------------------------------------------------------------------


def test_sniff_claims_exactly_the_fortio_format_samples() -> None:
    claimed = {
        str(p.relative_to(SAMPLES)) for p in all_sample_files() if fortio.sniff(p.read_bytes())
    }
    assert claimed == {
        "fortio/fortio_0.8.1_http_golden.json",
        "fortio/fortio_0.9.0_grpc_ping_readme.json",
        "fortio/fortio_1.57.3_http_iter8.json",
        "fortio/fortio_grpc_text_output_readme.txt",
        "fortio/fortio_http_text_output_readme.txt",
        "fortio/fortio_readme_http_rest_result.json",
        "fortio/nighthawk_samples_fortio_large.json",
        "fortio/nighthawk_samples_fortio_small.json",
        "fortio/nighthawk_transform_fortio_early.json",
        "nighthawk/output_formatter.medium.fortio-noquirks.gold",
        "nighthawk/output_formatter.medium.fortio.gold",
    }


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00", b"{", b"[]", b"null", b"{" * 5000])
def test_sniff_never_raises(data: bytes) -> None:
    assert fortio.sniff(data) is False
