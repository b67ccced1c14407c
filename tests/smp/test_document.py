from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from smp.document import (
    bundle_from_dict,
    format_path,
    is_bundle,
    parse_document,
    parse_timestamp,
    result_from_dict,
    validate_schema,
)
from smp.errors import ReaderError
from smp.model import Bundle, Calibration, HistogramBucket, ResourceUsage
from tests.smp import examples
from tests.smp.strategies import bundles

YAML_RESULT = b"""\
# an SMP result written by hand
start_time: 2024-05-01T12:00:00Z
end_time: 2024-05-01T12:00:10.5Z
latencies_ms: {min: 0.5, p50: 1.0, p99: 3.0, max: 4.0}
actual_QPS: 100
request_count: 1000
"""


def test_it_parses_yaml_and_turns_timestamps_back_into_text() -> None:
    doc = parse_document(YAML_RESULT)
    assert doc["start_time"] == "2024-05-01T12:00:00+00:00"
    assert validate_schema(doc, "result") == []
    result = result_from_dict(doc)
    assert result.start_time == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert result.end_time == dt.datetime(2024, 5, 1, 12, 0, 10, 500000, tzinfo=dt.UTC)
    assert result.actual_qps == 100.0


def test_it_parses_json_first_when_the_text_starts_with_a_brace() -> None:
    doc = parse_document(b'  {"latencies_ms": {"p50": 1}}')
    assert doc == {"latencies_ms": {"p50": 1}}


def test_it_reports_malformed_json_with_line_and_column() -> None:
    with pytest.raises(ReaderError, match="line 2 column"):
        parse_document(b'{"latencies_ms":\n {"p50": }}')


def test_it_rejects_nan_in_json() -> None:
    with pytest.raises(ReaderError, match="NaN"):
        parse_document(b'{"latencies_ms": {"p50": NaN}}')


def test_it_rejects_a_document_that_is_not_a_mapping() -> None:
    with pytest.raises(ReaderError, match="is a list"):
        parse_document(b"[1, 2]")
    with pytest.raises(ReaderError, match="is a str"):
        parse_document(b"just words")


def test_a_naive_yaml_timestamp_is_left_for_the_schema_to_reject() -> None:
    doc = parse_document(b"start_time: 2024-05-01 12:00:00\nlatencies_ms: {p50: 1}\n")
    [problem] = validate_schema(doc, "result")
    assert (problem.path, problem.rule) == ("start_time", "format")


def test_it_builds_a_result_reading_the_proto_aliases() -> None:
    doc = examples.result()
    doc["actual_QPS"] = doc.pop("actual_qps")
    doc["resources"]["sidecar"] = {"count": 1, "cpu_mCores": 50, "mem_mb": 30}
    result = result_from_dict(doc)
    assert result.actual_qps == 100.0
    assert result.resources is not None
    assert result.resources.sidecar == ResourceUsage(count=1, cpu_mcores=50.0, mem_mb=30.0)
    assert result.histogram[0] == HistogramBucket(0.5, 1.0, 3000)
    assert result.to_dict()["actual_qps"] == 100.0


def test_it_keeps_nanosecond_timestamps_to_the_microsecond() -> None:
    stamp = parse_timestamp("2020-03-17T14:53:05.499893378Z")
    assert stamp == dt.datetime(2020, 3, 17, 14, 53, 5, 499893, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="time zone"):
        parse_timestamp("2020-03-17T14:53:05")


def test_it_builds_the_example_bundle() -> None:
    bundle = bundle_from_dict(examples.bundle())
    assert [r.role for r in bundle.runs] == ["baseline", "mesh"]
    assert bundle.mesh_config.mesh_type == "istio"
    assert bundle.runs[1].resources is not None
    assert bundle.runs[1].resources.mesh_control_plane == ResourceUsage(1, 12.0, 80.0)
    assert bundle.environment.calibration == Calibration("meshmark-cpu/1", 1834.5, "ops/s")


def test_is_bundle_looks_for_a_runs_list() -> None:
    assert is_bundle(examples.bundle())
    assert not is_bundle(examples.result())
    assert not is_bundle({"runs": "not a list"})
    assert not is_bundle([])


def test_format_path_joins_names_and_indexes() -> None:
    assert format_path(["runs", 1, "latencies_ms", "p99"]) == "runs[1].latencies_ms.p99"
    assert format_path(["p99"], "runs[0].latencies_ms") == "runs[0].latencies_ms.p99"
    assert format_path([]) == ""


# -- round trip ---------------------------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(bundles)
def test_a_bundle_survives_a_round_trip_through_its_dict(bundle: Bundle) -> None:
    as_dict = bundle.to_dict()
    assert validate_schema(as_dict, "bundle") == []
    assert bundle_from_dict(as_dict).to_dict() == as_dict


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(bundles)
def test_a_bundle_survives_a_round_trip_through_json_bytes(bundle: Bundle) -> None:
    as_dict = bundle.to_dict()
    parsed = parse_document(json.dumps(as_dict).encode())
    assert bundle_from_dict(parsed).to_dict() == as_dict


def test_yaml_keys_become_text_as_in_json() -> None:
    doc = parse_document(b"latencies_ms: {p50: 1}\nstatus_codes: {200: 98, 503: 2}\n")
    assert doc["status_codes"] == {"200": 98, "503": 2}
    assert validate_schema(doc, "result") == []


@pytest.mark.parametrize(
    ("kind", "doc"),
    [
        ("mesh_config", {"mesh_type": "istio", "mesh_version": "1.24.1", "mtls_enabled": True}),
        ("environment", {"kubernetes_version": "v1.30.2", "node": [{"cores": 8}]}),
        ("test_config", {"duration": "60s", "clients": [{"connections": 4, "rps": 100}]}),
    ],
)
def test_the_messages_of_a_bundle_validate_on_their_own(kind: Any, doc: dict[str, Any]) -> None:
    assert validate_schema(doc, kind) == []
    bad = {**doc, "nodes": []}
    [problem] = validate_schema(bad, kind)
    assert (problem.path, problem.rule) == ("nodes", "additionalProperties")


def test_block_fields_of_the_spec_are_allowed_only_on_their_block() -> None:
    doc = {
        "mesh_type": "istio",
        "sidecar": {"count": 2, "rps": 1000, "bps": 2e6},
        "mesh_policy": {"cache_hit_rate": 99},
        "mesh_control_plane": {"endpoints": 200, "lds_latency_ms": 1020},
    }
    assert validate_schema(doc, "mesh_config") == []
    doc["sidecar"]["cache_hit_rate"] = 99
    [problem] = validate_schema(doc, "mesh_config")
    assert (problem.path, problem.rule) == ("sidecar.cache_hit_rate", "additionalProperties")
