"""k6 reader: --summary-export and handleSummary() data, thresholds, bad documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smp.errors import ReaderError
from smp.model import PerformanceTestResult
from smp.readers import k6

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
EXPORT = SAMPLES / "k6" / "summary_export.json"
HANDLE = SAMPLES / "k6" / "handle_summary_data.json"


def claimed_by(sniff: Callable[[bytes], bool]) -> set[str]:
    return {
        path.relative_to(SAMPLES).as_posix()
        for path in sorted(SAMPLES.rglob("*"))
        if path.is_file() and sniff(path.read_bytes())
    }


def read_one(data: bytes) -> PerformanceTestResult:
    (result,) = k6.read(data)
    return result


def edited(path: Path, change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(path.read_text())
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize("path", [EXPORT, HANDLE], ids=["summary-export", "handle-summary"])
def test_it_reads_http_req_duration_in_milliseconds_from_both_shapes(path: Path) -> None:
    latencies = read_one(path.read_bytes()).latencies_ms
    assert latencies.min == pytest.approx(0.118186)
    assert latencies.average == pytest.approx(1.7607530212424274)
    assert latencies.p50 == pytest.approx(1.218242)  # "med"
    assert latencies.p90 == pytest.approx(5.3545102)
    assert latencies.p95 == pytest.approx(5.482803)
    assert latencies.max == pytest.approx(8.869961)
    assert latencies.p99 is None  # not in k6's default summaryTrendStats
    assert latencies.p999 is None


@pytest.mark.parametrize("path", [EXPORT, HANDLE], ids=["summary-export", "handle-summary"])
def test_it_reads_k6_request_counts_rate_and_failures(path: Path) -> None:
    result = read_one(path.read_bytes())
    assert result.request_count == 13699
    assert result.actual_qps == pytest.approx(2737.994564193975)
    # http_req_failed: passes = 140 true samples = failed requests; 140 / 13699 = its rate
    assert result.error_count == 140
    assert result.error_count / 13699 == pytest.approx(0.010219724067450179)
    assert result.connections == 5  # vus_max
    assert result.requested_qps is None
    assert result.status_codes == {}
    assert result.load_generator is not None and result.load_generator.name == "k6"
    assert result.labels["k6.checks.passes"] == "13559"
    assert result.labels["k6.checks.fails"] == "140"


def test_it_takes_the_duration_from_test_run_duration_ms() -> None:
    assert read_one(HANDLE.read_bytes()).duration_s == pytest.approx(5.003297004, abs=1e-12)


def test_it_derives_the_export_duration_from_count_over_rate() -> None:
    assert read_one(EXPORT.read_bytes()).duration_s == pytest.approx(13699 / 2737.994564193975)
    assert read_one(EXPORT.read_bytes()).duration_s == pytest.approx(5.003297, abs=1e-6)


@pytest.mark.parametrize("path", [EXPORT, HANDLE], ids=["summary-export", "handle-summary"])
def test_it_labels_passed_thresholds_ok(path: Path) -> None:
    labels = read_one(path.read_bytes()).labels
    assert labels["k6.threshold.http_req_duration.p(95)<500"] == "ok"
    assert labels["k6.threshold.http_req_duration.p(99)<1000"] == "ok"
    assert labels["k6.threshold.http_req_failed.rate<0.05"] == "ok"


def test_a_true_threshold_in_the_export_means_failed() -> None:
    def fail(document: dict[str, Any]) -> None:
        document["metrics"]["http_req_duration"]["thresholds"]["p(95)<500"] = True

    labels = read_one(edited(EXPORT, fail)).labels
    assert labels["k6.threshold.http_req_duration.p(95)<500"] == "failed"
    assert labels["k6.threshold.http_req_duration.p(99)<1000"] == "ok"


def test_an_ok_false_threshold_in_handle_summary_means_failed() -> None:
    def fail(document: dict[str, Any]) -> None:
        document["metrics"]["http_req_failed"]["thresholds"]["rate<0.05"] = {"ok": False}

    labels = read_one(edited(HANDLE, fail)).labels
    assert labels["k6.threshold.http_req_failed.rate<0.05"] == "failed"


@pytest.mark.parametrize("path", [EXPORT, HANDLE], ids=["summary-export", "handle-summary"])
def test_it_reads_p99_and_p999_when_the_trend_stats_ask_for_them(path: Path) -> None:
    def add(document: dict[str, Any]) -> None:
        metric = document["metrics"]["http_req_duration"]
        body = metric.get("values", metric)
        body["p(99)"] = 7.25
        body["p(99.9)"] = 8.5

    latencies = read_one(edited(path, add)).latencies_ms
    assert latencies.p99 == pytest.approx(7.25)
    assert latencies.p999 == pytest.approx(8.5)


def test_it_falls_back_to_the_failed_rate_when_passes_is_absent() -> None:
    def drop(document: dict[str, Any]) -> None:
        del document["metrics"]["http_req_failed"]["values"]["passes"]

    assert read_one(edited(HANDLE, drop)).error_count == 140  # round(0.0102197... * 13699)


# --- bad documents ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["metrics"]["http_req_duration"].update(avg="fast"),
            r"metrics.http_req_duration.avg must be a number, got 'fast'",
        ),
        (
            lambda d: d["metrics"]["http_reqs"].update(count=12.5),
            r"metrics.http_reqs.count must be a whole count",
        ),
        (
            lambda d: d["metrics"].pop("http_req_duration"),
            r"metrics.http_req_duration is missing",
        ),
        (
            lambda d: d["metrics"]["http_req_duration"]["thresholds"].update({"p(95)<500": "no"}),
            r"thresholds\['p\(95\)<500'\] must be true \(failed\) or false \(passed\)",
        ),
        (lambda d: d.pop("root_group"), r"not a k6 summary"),
    ],
)
def test_it_explains_bad_export_documents(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ReaderError, match=message):
        k6.read(edited(EXPORT, change))


def test_it_explains_a_bad_handle_summary_values_object() -> None:
    def spoil(document: dict[str, Any]) -> None:
        document["metrics"]["http_reqs"]["values"]["rate"] = [1]

    with pytest.raises(ReaderError, match=r"metrics.http_reqs.rate must be a number"):
        k6.read(edited(HANDLE, spoil))


def test_truncated_json_raises_a_reader_error_with_its_position() -> None:
    data = HANDLE.read_bytes()
    with pytest.raises(ReaderError, match=r"k6: malformed JSON at line \d+ column \d+"):
        k6.read(data[: len(data) // 2])


@pytest.mark.parametrize(
    "data",
    [b"", b"[]", b'{"metrics": {}}', b'{"metrics": {"http_reqs": 1}, "root_group": {}}', b"\xff"],
)
def test_junk_raises_reader_errors_only(data: bytes) -> None:
    with pytest.raises(ReaderError):
        k6.read(data)


def test_nan_is_refused() -> None:
    data = EXPORT.read_bytes().replace(b'"avg": 1.7607530212424274', b'"avg": NaN')
    with pytest.raises(ReaderError, match="NaN"):
        k6.read(data)


# --- sniffing -----------------------------------------------------------------------------


def test_k6_sniff_claims_exactly_the_two_k6_summaries_and_not_the_script() -> None:
    assert claimed_by(k6.sniff) == {"k6/summary_export.json", "k6/handle_summary_data.json"}


@pytest.mark.parametrize("data", [b"", b"\xff", b'{"metrics"', b'"metrics" "http_reqs"'])
def test_k6_sniff_never_raises(data: bytes) -> None:
    assert k6.sniff(data) is False
