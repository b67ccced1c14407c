"""The nighthawk reader against the real nighthawk outputs in /work/shared/samples/nighthawk.

Expected figures were read by hand from the files: latencies are protobuf
Duration strings in seconds there, milliseconds here; a percentile is the
first row whose fraction reaches it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from smp.errors import ReaderError
from smp.model import LoadGenerator, PerformanceTestResult
from smp.readers import nighthawk

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
NIGHTHAWK = SAMPLES / "nighthawk"
UTC = dt.UTC
LATENCY = "benchmark_http_client.request_to_response"


def sample(name: str) -> bytes:
    return (NIGHTHAWK / name).read_bytes()


def read_one(data: bytes) -> PerformanceTestResult:
    results = nighthawk.read(data)
    assert len(results) == 1
    return results[0]


def write(tmp_path: Path, name: str, text: str) -> bytes:
    path = tmp_path / name
    path.write_text(text)
    return path.read_bytes()


def mutated(tmp_path: Path, name: str, change: Any) -> bytes:
    doc = json.loads(sample(name))
    change(doc)
    return write(tmp_path, "mutated.json", json.dumps(doc))


def global_result(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = next(r for r in doc["results"] if r["name"] == "global")
    return result


def latency_statistic(doc: dict[str, Any]) -> dict[str, Any]:
    stat: dict[str, Any] = next(s for s in global_result(doc)["statistics"] if s["id"] == LATENCY)
    return stat


# --- JSON output -----------------------------------------------------------------------


def test_it_reads_the_global_result_of_a_twelve_worker_run() -> None:
    result = read_one(sample("big_sample.json"))
    lat = result.latencies_ms
    # Rows 0 / 0.5 / 0.9 / 0.95 / 0.990625 / 0.9990234375 / 1 of the global statistic.
    expected = (0.135935, 0.182039, 0.312623, 0.336271, 0.510767, 5.279999, 19.186687)
    got = (lat.min, lat.p50, lat.p90, lat.p95, lat.p99, lat.p999, lat.max)
    assert got == pytest.approx(expected)
    assert lat.average == pytest.approx(0.229306)
    assert result.request_count == 18000  # upstream_rq_total
    assert result.status_codes == {"2xx": 18000}
    assert result.error_count == 0
    # --rps 50 and --connections 1 apply to each of the 12 workers.
    assert (result.requested_qps, result.connections) == (600.0, 12)
    assert result.duration_s == 30.0  # no execution_duration yet: options.duration
    assert result.actual_qps == pytest.approx(600.0)
    assert result.start_time == dt.datetime(2019, 10, 18, 19, 29, 33, 480284, tzinfo=UTC)
    assert result.end_time == dt.datetime(2019, 10, 18, 19, 30, 3, 480284, tzinfo=UTC)
    assert result.load_generator == LoadGenerator("nighthawk", None)
    assert result.protocol == "http"
    assert result.labels == {"url": "http://127.0.0.1:10001/"}


def test_it_takes_the_first_row_at_or_above_each_percentile() -> None:
    lat = read_one(sample("full_sample.json")).latencies_ms
    assert lat.p50 == pytest.approx(60.903423)  # row 0.5
    assert lat.p90 == pytest.approx(68.657151)  # row 0.9
    assert lat.p95 == pytest.approx(73.601023)  # row 0.95
    assert lat.p99 == pytest.approx(84.357119)  # no row in (0.98125, 1): row 1
    assert lat.p999 == pytest.approx(84.357119)
    assert (lat.min, lat.average) == pytest.approx((55.568383, 62.589845))


def test_it_reads_a_single_worker_run_with_execution_duration_and_3xx_answers() -> None:
    result = read_one(sample("large-sample.json"))
    assert result.load_generator == LoadGenerator("nighthawk", "0.3.0")
    assert result.duration_s == pytest.approx(5.000010451)  # global.execution_duration
    assert result.request_count == 1368
    assert result.actual_qps == pytest.approx(1368 / 5.000010451)
    assert (result.requested_qps, result.connections) == (2000.0, 100)  # concurrency 1
    assert result.status_codes == {"3xx": 1317}  # no 2xx counter: nighthawk omits zeros
    assert result.error_count == 1317  # pool_overflow (8631) requests were never sent
    lat = result.latencies_ms
    assert (lat.min, lat.average, lat.max) == pytest.approx((85.323775, 93.536335, 112.316415))
    # Rows 0.5, 0.9, 0.95, 0.990625, first >= 0.999.
    expected = (92.962815, 98.242559, 102.346751, 109.101055, 111.198207)
    assert (lat.p50, lat.p90, lat.p95, lat.p99, lat.p999) == pytest.approx(expected)
    assert result.start_time == dt.datetime(2020, 6, 10, 9, 47, 6, 915922, tzinfo=UTC)
    assert result.labels == {"url": "www.we-amp.com"}


def test_it_prefers_execution_start_to_the_output_timestamp(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        global_result(doc)["execution_start"] = "2020-06-10T09:47:07.5Z"

    result = read_one(mutated(tmp_path, "large-sample.json", change))
    assert result.start_time == dt.datetime(2020, 6, 10, 9, 47, 7, 500000, tzinfo=UTC)


def test_it_counts_resets_and_connection_failures_as_errors(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        global_result(doc)["counters"] += [
            {"name": "benchmark.http_5xx", "value": "7"},
            {"name": "benchmark.stream_resets", "value": "2"},
            {"name": "benchmark.pool_connection_failure", "value": "3"},
        ]

    result = read_one(mutated(tmp_path, "big_sample.json", change))
    assert result.status_codes == {"2xx": 18000, "5xx": 7}
    assert result.error_count == 7 + 2 + 3
    assert result.request_count == 18000 + 3  # failed connections never reached upstream_rq


def test_it_counts_one_connection_per_worker_with_h2(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["options"]["h2"] = True

    assert read_one(mutated(tmp_path, "large-sample.json", change)).connections == 1


def test_it_refuses_output_without_the_request_latency_statistic() -> None:
    with pytest.raises(ReaderError) as caught:
        nighthawk.read(sample("output_formatter.json.gold"))
    message = str(caught.value)
    assert f"no {LATENCY!r} statistic" in message
    assert "'stat_id', '', 'foo_size', 'foo_latency'" in message
    with pytest.raises(ReaderError, match=r"statistics: 'foo'"):
        nighthawk.read(sample("percentile-column-overflow.json"))


def test_it_reads_the_overflow_sample_once_its_statistic_is_the_latency(tmp_path: Path) -> None:
    data = sample("percentile-column-overflow.json").replace(b'"foo"', f'"{LATENCY}"'.encode())
    result = read_one(write(tmp_path, "overflow.json", data.decode()))
    lat = result.latencies_ms
    # A single row at 0.99931640625 (0 s) is the first at or above every percentile.
    assert (lat.p50, lat.p90, lat.p95, lat.p99, lat.p999) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert (lat.min, lat.max, lat.average) == (None, None, None)
    assert result.request_count is None  # no counters at all


@pytest.mark.parametrize("name", ["hdr_proto_json.gold", "circllhist_proto_json.gold"])
def test_it_reads_both_percentile_row_layouts_inside_an_output(tmp_path: Path, name: str) -> None:
    statistic = json.loads(sample(name))
    statistic["id"] = LATENCY
    doc = {"results": [{"name": "global", "statistics": [statistic], "counters": []}]}
    lat = read_one(write(tmp_path, "wrapped.json", json.dumps(doc))).latencies_ms
    ns = 1e-6  # one nanosecond in ms
    assert (lat.min, lat.average, lat.max) == pytest.approx((1 * ns, 6 * ns, 10 * ns))
    assert (lat.p50, lat.p90, lat.p99) == pytest.approx((5 * ns, 9 * ns, 10 * ns))
    assert lat.p95 == pytest.approx(10 * ns)


@pytest.mark.parametrize("name", ["hdr_proto_json.gold", "circllhist_proto_json.gold"])
def test_it_refuses_a_bare_statistic(name: str) -> None:
    with pytest.raises(
        ReaderError, match=r"single nighthawk Statistic message.*--output-format json"
    ):
        nighthawk.read(sample(name))


def test_it_refuses_the_proto_gold_that_is_not_strict_json() -> None:
    with pytest.raises(ReaderError, match=r"not strict JSON \(malformed JSON at line 52"):
        nighthawk.read(sample("output_formatter.medium.proto.gold"))


@pytest.mark.parametrize(
    ("name", "format"),
    [
        ("output_formatter.csv.gold", "CSV output (--output-format csv)"),
        ("output_formatter.dotted.gold", "dotted-name output (--output-format dotted)"),
        ("output_formatter.txt.gold", "human-readable console output (--output-format human)"),
        ("percentile-column-overflow.txt.gold", "human-readable console output"),
        ("output_formatter.prometheus.gold", "Prometheus exposition output"),
    ],
)
def test_it_names_the_other_output_formats_and_asks_for_json(name: str, format: str) -> None:
    with pytest.raises(ReaderError) as caught:
        nighthawk.read(sample(name))
    assert f"nighthawk's {format}" in str(caught.value)
    assert "--output-format json" in str(caught.value)


# --- YAML output -----------------------------------------------------------------------


def filled_yaml_gold() -> str:
    text = sample("output_formatter.yaml.gold").decode()
    for name, value in (("major", "0"), ("minor", "3"), ("patch", "0")):
        text = text.replace(f"@version_{name}@", value)
    return text


def test_it_refuses_the_yaml_gold_template_and_names_its_placeholders() -> None:
    with pytest.raises(ReaderError, match=r"YAML .*placeholders like @version_major@.*line 373"):
        nighthawk.read(sample("output_formatter.yaml.gold"))


def test_it_refuses_the_filled_yaml_gold_for_its_missing_latency(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match=f"no {LATENCY!r} statistic"):
        nighthawk.read(write(tmp_path, "out.yaml", filled_yaml_gold()))


def test_it_reads_nighthawks_yaml_serialization(tmp_path: Path) -> None:
    text = filled_yaml_gold().replace("id: foo_latency", f"id: {LATENCY}")
    text = text.replace("name: bar", "name: upstream_rq_total")
    text = text.replace("name: foo", "name: benchmark.http_5xx")
    result = read_one(write(tmp_path, "out.yaml", text))
    lat = result.latencies_ms
    assert (lat.min, lat.average, lat.max) == pytest.approx((0.180007, 0.195004, 0.210007))
    assert lat.p50 == pytest.approx(0.190007)  # row 0.5
    assert lat.p90 == pytest.approx(0.210007)  # row 1 (0.775 is the last one below)
    # Plain YAML scalars: counts are ints, the timestamp a datetime.
    assert (result.request_count, result.error_count) == (2, 1)
    assert result.status_codes == {"5xx": 1}
    assert result.start_time == dt.datetime(2009, 2, 13, 23, 31, 31, 567000, tzinfo=UTC)
    assert (result.duration_s, result.actual_qps) == (1.0, 2.0)
    assert result.load_generator == LoadGenerator("nighthawk", "0.3.0")
    assert result.connections is None  # "connections: 0"


def test_yaml_and_json_of_the_same_run_convert_alike(tmp_path: Path) -> None:
    doc = json.loads(sample("large-sample.json"))
    as_yaml = write(tmp_path, "large.yaml", yaml.safe_dump(doc, sort_keys=False))
    assert read_one(as_yaml) == read_one(sample("large-sample.json"))


# --- malformed input -------------------------------------------------------------------


def test_it_refuses_truncated_json_as_not_strict_json() -> None:
    data = sample("big_sample.json")
    with pytest.raises(ReaderError, match="not strict JSON"):
        nighthawk.read(data[: len(data) // 2])


def test_it_refuses_json_that_is_not_nighthawk_output() -> None:
    with pytest.raises(ReaderError, match=r"not nighthawk output.*--output-format json"):
        nighthawk.read(b'{"results": {}}')


def test_it_refuses_nan(tmp_path: Path) -> None:
    data = sample("large-sample.json").replace(b'"percentile": 0.5,', b'"percentile": NaN,', 1)
    with pytest.raises(ReaderError, match="NaN"):
        nighthawk.read(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: latency_statistic(d).update(count={"n": 1}),
            "nighthawk: results[0].statistics[1].count must be a number, got object",
        ),
        (
            lambda d: latency_statistic(d)["percentiles"][3].update(percentile=1.5),
            "statistics[1].percentiles[3].percentile must be a fraction between 0 and 1",
        ),
        (
            lambda d: latency_statistic(d)["percentiles"][3].update(duration=0.09),
            "percentiles[3].duration must be a duration >= 0 like '1.5ms' or '0.0015s', got number",
        ),
        (
            lambda d: latency_statistic(d).update(mean="fast"),
            "results[0].statistics[1].mean must be a duration >= 0 like '1.5ms' or '0.0015s', "
            "got 'fast'",
        ),
        (
            lambda d: latency_statistic(d)["percentiles"].reverse(),
            "must not be lower than the row before",
        ),
        (lambda d: d["results"][0].update(name="worker_0"), "no result named 'global'"),
        (
            lambda d: d["results"][0].update(name=5),
            "nighthawk: results[0].name must be a string, got number",
        ),
        (
            lambda d: d["results"][0]["counters"].append({"name": "upstream_rq_total"}),
            "counters[14].name 'upstream_rq_total' appears twice",
        ),
        (
            lambda d: d["results"][0]["counters"][0].update(value=[1]),
            "counters[0].value must be a number, got array",
        ),
        (lambda d: d["options"].update(h2="yes"), "options.h2 must be true or false"),
        (lambda d: d.update(timestamp=12), "timestamp must be an RFC 3339 timestamp, got number"),
        (
            lambda d: d["results"][0].update(execution_duration="-5s"),
            "results[0].execution_duration must be a duration >= 0 like '1.5ms' or '0.0015s', "
            "got '-5s'",
        ),
        (
            lambda d: d["results"][0].update(execution_duration="99999999999999s"),
            "results[0].execution_duration (1e+14 s) is out of range",
        ),
    ],
)
def test_it_names_the_field_and_the_rule_of_wrong_types(
    tmp_path: Path, change: Any, message: str
) -> None:
    with pytest.raises(ReaderError, match=re.escape(message)):
        nighthawk.read(mutated(tmp_path, "large-sample.json", change))


# --- detection -------------------------------------------------------------------------


def test_sniff_claims_exactly_the_native_nighthawk_samples() -> None:
    files = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.name != "SOURCES.md")
    claimed = {str(p.relative_to(SAMPLES)) for p in files if nighthawk.sniff(p.read_bytes())}
    fortio_format = {
        "output_formatter.medium.fortio.gold",
        "output_formatter.medium.fortio-noquirks.gold",
    }
    expected = {f"nighthawk/{p.name}" for p in NIGHTHAWK.iterdir() if p.name not in fortio_format}
    assert claimed == expected


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00", b"{", b"[]", b"results:\n", b"[" * 5000])
def test_sniff_never_raises(data: bytes) -> None:
    assert nighthawk.sniff(data) is False
