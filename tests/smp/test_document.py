from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from smp.model import (
    MESH_TYPES,
    PROTOCOLS,
    ROLES,
    Bundle,
    Calibration,
    Client,
    EnvironmentConfig,
    HistogramBucket,
    IndividualWorkload,
    Latencies,
    LoadGenerator,
    Node,
    PerformanceTestConfig,
    PerformanceTestResult,
    RawOutput,
    ResourceUsage,
    RunResources,
    ServiceMeshConfig,
)
from tests.smp import examples

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

texts = st.text(max_size=12)
names = st.text(min_size=1, max_size=12)
numbers = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)
counts = st.integers(0, 10**9)
labels = st.dictionaries(names, texts, max_size=3)
times = st.datetimes(timezones=st.just(dt.UTC))


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


usages = st.builds(
    ResourceUsage, count=maybe(counts), cpu_mcores=maybe(numbers), mem_mb=maybe(numbers)
)
workloads = st.builds(
    IndividualWorkload,
    name=names,
    count=maybe(counts),
    cpu_mcores=maybe(numbers),
    mem_mb=maybe(numbers),
)
blocks = {
    name: maybe(usages)
    for name in (
        "sidecar",
        "ingress_gateway",
        "egress_gateway",
        "mesh_control_plane",
        "mesh_telemetry",
        "mesh_policy",
    )
}
results = st.builds(
    PerformanceTestResult,
    latencies_ms=st.builds(
        Latencies,
        min=maybe(numbers),
        average=maybe(numbers),
        p50=numbers,
        p90=maybe(numbers),
        p95=maybe(numbers),
        p99=maybe(numbers),
        p999=maybe(numbers),
        max=maybe(numbers),
    ),
    actual_qps=maybe(numbers),
    start_time=maybe(times),
    end_time=maybe(times),
    duration_s=maybe(numbers),
    requested_qps=maybe(numbers),
    request_count=maybe(counts),
    error_count=maybe(counts),
    status_codes=st.dictionaries(st.sampled_from(["200", "503", "-1", "SERVING"]), counts),
    histogram=st.lists(st.builds(HistogramBucket, numbers, numbers, counts), max_size=3),
    load_generator=maybe(st.builds(LoadGenerator, name=names, version=maybe(texts))),
    protocol=maybe(st.sampled_from(PROTOCOLS)),
    connections=maybe(st.integers(1, 10_000)),
    role=maybe(st.sampled_from(ROLES)),
    profile_id=maybe(texts),
    resources=maybe(st.builds(RunResources, **blocks, workloads=st.lists(workloads, max_size=2))),
    raw=maybe(st.builds(RawOutput, format=names, content=texts)),
    labels=labels,
    id=maybe(texts),
)
environments = st.builds(
    EnvironmentConfig,
    kubernetes_version=maybe(texts),
    node=st.lists(
        st.builds(
            Node,
            type=maybe(texts),
            cores=maybe(numbers),
            mem_mb=maybe(numbers),
            arch=maybe(texts),
            count=st.integers(1, 100),
        ),
        max_size=2,
    ),
    individual_workloads=st.lists(workloads, max_size=2),
    cni=maybe(texts),
    kernel_version=maybe(texts),
    provider=maybe(texts),
    calibration=maybe(st.builds(Calibration, probe=names, score=st.floats(0.001, 1e9), unit=names)),
    labels=labels,
)
mesh_configs = st.builds(
    ServiceMeshConfig,
    mesh_type=st.sampled_from(MESH_TYPES),
    mesh_version=maybe(texts),
    mtls_enabled=maybe(st.booleans()),
    mesh_telemetry_enabled=maybe(st.booleans()),
    mesh_policy_enabled=maybe(st.booleans()),
    proxy_concurrency=maybe(st.integers(0, 64)),
    proxy_build=maybe(texts),
    labels=labels,
    **blocks,
)
configs = st.builds(
    PerformanceTestConfig,
    id=maybe(texts),
    name=maybe(texts),
    duration=maybe(texts),
    clients=st.lists(
        st.builds(
            Client,
            load_generator=maybe(texts),
            protocol=maybe(st.sampled_from(PROTOCOLS)),
            connections=maybe(st.integers(1, 1000)),
            rps=maybe(numbers),
            internal=maybe(st.booleans()),
            endpoint_url=st.lists(texts, max_size=2),
            headers=labels,
            body=maybe(texts),
            content_type=maybe(texts),
        ),
        max_size=2,
    ),
    labels=labels,
)
bundles = st.builds(
    Bundle,
    profile=maybe(texts),
    environment=environments,
    mesh_config=mesh_configs,
    config=maybe(configs),
    runs=st.lists(results, min_size=1, max_size=3),
    labels=labels,
)


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
