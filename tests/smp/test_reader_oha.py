"""oha reader: the LiveWyer 2024 study's text reports (plain and coloured) and oha's JSON.

Figures were read by hand from the report files (seconds there, ms here); the
table of every file's figures is in ``oha_study_figures.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from smp import consistency
from smp.errors import ReaderError
from smp.model import LoadGenerator, PerformanceTestResult
from smp.readers import detect, hey, oha

from .oha_study_figures import figures

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT.parent / "shared" / "real-data" / "livewyer-poc-servicemesh2024" / "network-tests"
SAMPLES = ROOT.parent / "shared" / "samples"
BASELINE_128 = (
    STUDY / "v3/oha-results/baseline/pod/test-productpage.bookinfo-basic.svc-128-300000.txt"
)
ISTIO_128_ANSI = (
    STUDY / "v3/s3-bucket/istio-service-mesh-poc-pod-meshed/"
    "test-productpage.bookinfo-basic.svc-128-300000.txt"
)
TIMEOUT_RUN = STUDY / "v4/oha-results/baseline/vm/test-bookinfo-basic-128-300000.txt"
STUDY_FIGURES = figures()


def read_one(data: bytes) -> PerformanceTestResult:
    (result,) = oha.read(data)
    return result


def study_files() -> list[Path]:
    return sorted(p for p in STUDY.rglob("*.txt"))


def test_the_figures_table_covers_every_report_of_the_study() -> None:
    assert {p.relative_to(STUDY).as_posix() for p in study_files()} == set(STUDY_FIGURES)
    assert len(STUDY_FIGURES) == 190


def test_it_reads_a_plain_report_in_milliseconds() -> None:
    result = read_one(BASELINE_128.read_bytes())
    lat = result.latencies_ms
    # Fastest 0.1816, Average 0.8374, Slowest 6.0281 secs; 50/90/95/99/99.9% rows.
    assert (lat.min, lat.average, lat.max) == pytest.approx((181.6, 837.4, 6028.1))
    assert (lat.p50, lat.p90, lat.p95) == pytest.approx((831.9, 987.1, 1032.3))
    assert (lat.p99, lat.p999) == pytest.approx((1163.0, 1328.9))
    assert result.actual_qps == pytest.approx(152.8428)
    assert result.duration_s == pytest.approx(1962.8008)
    assert result.request_count == 300000
    assert result.error_count == 0
    assert result.status_codes == {"200": 300000}
    assert result.requested_qps is None and result.connections is None
    assert result.load_generator == LoadGenerator("oha")
    assert result.protocol == "http"
    assert result.labels == {"oha.output": "text"}


def test_the_histogram_keeps_ohas_bins_with_a_zero_width_first_one() -> None:
    buckets = read_one(BASELINE_128.read_bytes()).histogram
    # "0.182 [1]", "0.766 [57610]", "1.351 [242188]", "1.936 [194]", ..., "6.028 [7]".
    assert [b.count for b in buckets] == [1, 57610, 242188, 194, 7]
    first, second = buckets[0], buckets[1]
    assert first.start_ms == first.end_ms == pytest.approx(181.6)  # only the fastest
    # Marks are Fastest + i * (Slowest - Fastest) / 10 = 181.6 + i * 584.65 ms.
    assert (second.start_ms, second.end_ms) == pytest.approx((181.6, 766.25))
    assert (buckets[-1].start_ms, buckets[-1].end_ms) == pytest.approx((5443.45, 6028.1))


def test_colour_codes_are_read_through() -> None:
    result = read_one(ISTIO_128_ANSI.read_bytes())
    lat = result.latencies_ms
    # Coloured lines: Fastest 0.0310, Average 1.0775, Slowest 5.8489 secs.
    assert (lat.min, lat.average, lat.max) == pytest.approx((31.0, 1077.5, 5848.9))
    assert (lat.p50, lat.p99, lat.p999) == pytest.approx((1069.6, 1557.7, 1778.1))
    assert result.actual_qps == pytest.approx(118.7859)
    assert [b.count for b in result.histogram] == [1, 876, 230350, 68464, 308, 1]


def test_requests_without_a_response_are_errors_not_status_codes() -> None:
    result = read_one(TIMEOUT_RUN.read_bytes())
    # "[200] 299999 responses" and "Error distribution: [1] timeout".
    assert result.status_codes == {"200": 299999}
    assert result.request_count == 300000
    assert result.error_count == 1
    assert sum(b.count for b in result.histogram) == 299999  # oha bins responses only


@pytest.mark.parametrize("path", study_files(), ids=lambda p: p.relative_to(STUDY).as_posix())
def test_every_study_report_converts_with_its_figures(path: Path) -> None:
    data = path.read_bytes()
    assert detect(data).name == "oha"
    result = read_one(data)
    total, rps, p50, p99, ok, errors = STUDY_FIGURES[path.relative_to(STUDY).as_posix()]
    assert result.duration_s == pytest.approx(total)
    assert result.actual_qps == pytest.approx(rps)
    assert result.latencies_ms.p50 == pytest.approx(p50 * 1e3)
    assert result.latencies_ms.p99 == pytest.approx(p99 * 1e3)
    assert result.status_codes == {"200": ok}
    assert (result.request_count, result.error_count) == (ok + errors, errors)
    assert sum(b.count for b in result.histogram) == ok
    assert consistency.check_result(result) == []


def test_a_coloured_upload_and_its_plain_copy_give_the_same_result() -> None:
    twins = 0
    for plain in (STUDY / "v3" / "oha-results").rglob("*.txt"):
        mesh, where = plain.parent.parent.name, plain.parent.name
        coloured = STUDY / "v3/s3-bucket" / f"{mesh}-service-mesh-poc-{where}-meshed" / plain.name
        if coloured.exists():
            twins += 1
            assert read_one(coloured.read_bytes()) == read_one(plain.read_bytes())
    assert twins == 24


# --- later oha versions: generated from a real report ----------------------------------------


def test_it_reads_the_unit_names_of_later_oha_versions() -> None:
    text = BASELINE_128.read_text()
    # oha >= 1.9 prints its time scale's name ("sec", "ms", ...) on every time, marks included.
    later = text.replace(" secs", " sec")
    later = re.sub(r"^(\s+\d+\.\d+) \[", r"\1 sec [", later, flags=re.MULTILINE)
    assert read_one(later.encode()) == read_one(BASELINE_128.read_bytes())


def test_milliseconds_are_read_as_milliseconds() -> None:
    text = (
        "Summary:\n  Success rate:\t100.00%\n  Total:\t2000.0000 ms\n"
        "  Slowest:\t9.0000 ms\n  Fastest:\t1.0000 ms\n  Average:\t2.5000 ms\n"
        "  Requests/sec:\t50.0000\n\n  Total data:\t0 B\n  Size/request:\t0 B\n"
        "  Size/sec:\t0 B\n\nResponse time histogram:\n  1.000 ms [1] |■\n  9.000 ms [99] |■\n\n"
        "Response time distribution:\n  50.00% in 2.0000 ms\n  99.00% in 8.5000 ms\n\n"
        "Status code distribution:\n  [200] 100 responses\n"
    )
    result = read_one(text.encode())
    assert result.duration_s == pytest.approx(2.0)
    assert (result.latencies_ms.p50, result.latencies_ms.p99) == pytest.approx((2.0, 8.5))
    assert [(b.start_ms, b.end_ms, b.count) for b in result.histogram] == [
        (1.0, 1.0, 1),
        (1.0, 9.0, 99),
    ]


# --- JSON ------------------------------------------------------------------------------------


def oha_json(**changes: Any) -> dict[str, Any]:
    """oha's ``--json`` document for the run of BASELINE_128, shaped after oha's schema.json."""
    doc: dict[str, Any] = {
        "summary": {
            "successRate": 1.0,
            "total": 1962.8008,
            "slowest": 6.0281,
            "fastest": 0.1816,
            "average": 0.8374,
            "requestsPerSec": 152.8428,
            "totalData": 1481763840,
            "sizePerRequest": 4939,
            "sizePerSec": 757606.0,
        },
        "responseTimeHistogram": {
            "0.1816": 1,
            "0.76625": 57610,
            "1.3509": 242188,
            "1.93555": 194,
            "2.5202": 0,
            "6.0281": 7,
        },
        "latencyPercentiles": {
            "p10": 0.677,
            "p25": 0.7911,
            "p50": 0.8319,
            "p75": 0.8867,
            "p90": 0.9871,
            "p95": 1.0323,
            "p99": 1.163,
            "p99.9": 1.3289,
            "p99.99": 1.4906,
        },
        "rps": {"mean": 152.0, "stddev": None, "max": 300.0, "percentiles": {}},
        "details": {"DNSDialup": {}, "DNSLookup": {}},
        "statusCodeDistribution": {"200": 300000},
        "errorDistribution": {},
    }
    doc.update(changes)
    return doc


def test_it_reads_ohas_json_summary() -> None:
    result = read_one(json.dumps(oha_json()).encode())
    lat = result.latencies_ms
    assert (lat.min, lat.p50, lat.p99, lat.p999, lat.max) == pytest.approx(
        (181.6, 831.9, 1163.0, 1328.9, 6028.1)
    )
    assert result.actual_qps == pytest.approx(152.8428)
    assert result.duration_s == pytest.approx(1962.8008)
    assert result.request_count == 300000
    assert result.labels == {"oha.output": "json"}
    # JSON marks are exact: no refinement, the empty bin is left out.
    assert [(b.start_ms, b.end_ms, b.count) for b in result.histogram] == [
        (181.6, 181.6, 1),
        (181.6, 766.25, 57610),
        (766.25, 1350.9, 242188),
        (1350.9, 1935.55, 194),
        (2520.2, 6028.1, 7),
    ]


def test_deadline_aborts_count_as_requests_but_not_as_errors() -> None:
    doc = oha_json(errorDistribution={"aborted due to deadline": 12, "timeout": 3})
    result = read_one(json.dumps(doc).encode())
    assert result.request_count == 300015
    assert result.error_count == 3
    assert result.labels["oha.aborted_by_deadline"] == "12"


def test_a_run_without_any_response_has_no_latencies() -> None:
    doc = oha_json(
        summary={**oha_json()["summary"], "slowest": None, "fastest": None, "average": None},
        latencyPercentiles={f"p{p}": None for p in ("10", "50", "99", "99.9")},
        responseTimeHistogram={"NaN": 0},
        statusCodeDistribution={},
        errorDistribution={"connection error": 40},
    )
    result = read_one(json.dumps(doc).encode())
    assert result.latencies_ms.p50 is None and result.histogram == []
    assert (result.request_count, result.error_count) == (40, 40)


def test_bad_json_figures_name_the_field() -> None:
    doc = oha_json(statusCodeDistribution={"200": "many"})
    with pytest.raises(ReaderError, match=r"statusCodeDistribution\.200 must be a number"):
        oha.read(json.dumps(doc).encode())
    with pytest.raises(ReaderError, match="summary is missing"):
        oha.read(b'{"successRate": 1, "latencyPercentiles": {}}')


# --- detection and bad input -----------------------------------------------------------------


def test_detection_tells_oha_from_hey() -> None:
    assert detect(BASELINE_128.read_bytes()).name == "oha"
    assert detect(ISTIO_128_ANSI.read_bytes()).name == "oha"
    assert detect(json.dumps(oha_json()).encode()).name == "oha"
    for sample in sorted((SAMPLES / "hey").iterdir()):
        assert not oha.sniff(sample.read_bytes()), sample
    assert not hey.sniff(BASELINE_128.read_bytes())


def test_a_truncated_report_is_refused_with_the_reason() -> None:
    text = BASELINE_128.read_text().split("Status code distribution:")[0]
    with pytest.raises(ReaderError, match="'Status code distribution:' section is missing"):
        oha.read(text.encode())


def test_a_garbled_row_is_refused_with_its_line() -> None:
    text = BASELINE_128.read_text().replace("50.00% in 0.8319 secs", "50.00% in fast")
    with pytest.raises(ReaderError, match=r"line 30: malformed 'Response time distribution'"):
        oha.read(text.encode())
