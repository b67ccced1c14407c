"""Reading SMP as the spec writes it: its sample result, Meshery's test configuration, the
protos' spellings (as protobuf itself prints them), the v0.1 proto's, and what is refused.

Expected figures were read by hand from the files under
``shared/real-data/smp-repo-artifacts/`` (see its SOURCES.md).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from google.protobuf import json_format

from runner.cli import cli
from smp.consistency import check_result
from smp.errors import ReaderError
from smp.readers import detect, smpdoc
from smp.spec.read import SpecError, normalize, read_document, read_test_config
from smp.submission import read_submission

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT.parent / "shared" / "real-data" / "smp-repo-artifacts"
SAMPLE_RESULT = ARTIFACTS / "service-mesh-performance" / "service_mesh_performance_result.yaml"
TEMPLATE = ARTIFACTS / "service-mesh-performance" / "smps.yaml"
BENCHMARK_SPEC = ARTIFACTS / "service-mesh-performance" / "benchmark-spec.yaml"
LOAD_TEST = ARTIFACTS / "meshery-smp-action" / "load-test.yaml"
UTC = dt.UTC


def as_json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def problems_of(doc: Any, **kwargs: Any) -> list[tuple[str, str]]:
    return [(p.path, p.rule) for p in normalize(doc, **kwargs).problems]


# --- the spec repository's own sample result ------------------------------------------------


def test_the_specs_sample_result_is_read_with_its_seconds_made_milliseconds() -> None:
    read = read_document(SAMPLE_RESULT.read_bytes())
    assert (read.kind, read.shape) == ("result", "smp-legacy")
    result = read.result
    assert result is not None
    lat = result.latencies_ms
    # client.latencies_ms there: min 0.012007082, average 0.023581708206018594,
    # p50 0.021899077590884428, p90 0.033029247910863514, p99 0.055, max 0.350472228 (seconds).
    assert lat.min == pytest.approx(12.007082)
    assert lat.average == pytest.approx(23.581708206018594)
    assert lat.p50 == pytest.approx(21.899077590884428)
    assert lat.p90 == pytest.approx(33.029247910863514)
    assert lat.p99 == pytest.approx(55.0)
    assert lat.max == pytest.approx(350.472228)
    # client.rps 0.9999971285438009 x (17:53:05.530905 - 14:53:05.499893) = 10,800.0 requests.
    assert result.actual_qps == pytest.approx(0.9999971285438009)
    assert result.start_time == dt.datetime(2020, 3, 17, 14, 53, 5, 499893, tzinfo=UTC)
    assert result.end_time == dt.datetime(2020, 3, 17, 17, 53, 5, 530905, tzinfo=UTC)
    assert result.connections == 1
    [warning] = read.warnings
    assert (warning.path, warning.rule) == ("client.latencies_ms", "latency-seconds-corrected")
    assert check_result(result) == []


def test_the_samples_other_parts_are_read_for_what_they_are() -> None:
    read = read_document(SAMPLE_RESULT.read_bytes())
    assert read.environment is not None and read.environment.kubernetes_version == "v1.15.5"
    assert read.mesh_config is not None
    assert read.mesh_config.exp_uuid == "a0b57497-12f1-40a5-ae78-3fd3414c4a48"
    assert read.test_config is not None
    [client] = read.test_config.clients
    assert client.endpoint_url == ["http://192.168.1.15/productpage"]
    assert client.connections == 1


def test_convert_and_validate_accept_the_sample_and_say_what_was_corrected() -> None:
    runner = CliRunner()
    converted = runner.invoke(cli, ["convert", str(SAMPLE_RESULT)])
    assert converted.exit_code == 0, converted.output
    assert json.loads(converted.stdout)["latencies_ms"]["p50"] == pytest.approx(21.899077591)
    assert "read as seconds and converted to ms" in converted.stderr
    validated = runner.invoke(cli, ["validate", str(SAMPLE_RESULT)])
    assert validated.exit_code == 0, validated.output
    assert "valid smp result (1 run)" in validated.stdout


def test_seconds_are_corrected_only_in_the_legacy_shape() -> None:
    # The same figures in MeshMark's own shape are still refused as seconds.
    doc = {"latencies_ms": {"p50": 0.0219, "max": 0.35}}
    read = read_document(as_json(doc))
    assert read.warnings == []
    assert read.result is not None
    assert [p.rule for p in check_result(read.result)] == ["latency-looks-like-seconds"]


# --- the v0.1 template and its predecessor (invalid YAML upstream) ---------------------------


@pytest.mark.parametrize(("path", "line"), [(TEMPLATE, 39), (BENCHMARK_SPEC, 28)])
def test_the_specs_old_templates_are_malformed_yaml_and_said_to_be(path: Path, line: int) -> None:
    report = read_submission(path.read_bytes(), native_alone=True)
    [problem] = report.errors
    assert problem.rule == "readable"
    assert f"smp: malformed YAML at line {line} column 9" in problem.message


def fixed_template(protocol: str) -> bytes:
    """smps.yaml with its one indentation error repaired (node: belongs beside node_count)."""
    text = TEMPLATE.read_text().replace("  node_count: 5\n    node: ", "  node_count: 5\n  node: ")
    return text.replace('"http | tcp | grpc"', protocol).encode()


def test_the_repaired_v01_template_reports_its_placeholder_protocol() -> None:
    with pytest.raises(SpecError) as caught:
        read_document(fixed_template('"http | tcp | grpc"'))
    [problem] = caught.value.problems
    assert (problem.path, problem.rule) == ("client.protocol", "enum")


def test_the_repaired_v01_template_is_read_into_every_message() -> None:
    read = read_document(fixed_template("http"))
    assert (read.kind, read.shape) == ("result", "smp-legacy")
    assert read.warnings == []  # 4..45 ms are milliseconds
    assert read.result is not None and read.result.latencies_ms.p99 == 40
    assert read.result.labels == {
        "version": "v1",
        "app": "project-xxx",
        "environment": "production",
        "tool": "wrk2",
    }
    assert read.result.smp_version == "smps/v0.1.0"
    mesh = read.mesh_config
    assert mesh is not None
    assert (mesh.mtls_enabled, mesh.proxy_concurrency, mesh.mesh_version) == (True, 0, "xx.xx.xx")
    assert mesh.sidecar is not None  # metrics.sidecars
    assert (mesh.sidecar.count, mesh.sidecar.cpu_mcores, mesh.sidecar.rps) == (20, 3000, 8000)
    assert mesh.ingress_gateway is not None and mesh.ingress_gateway.bps == 89000
    assert mesh.mesh_policy is not None and mesh.mesh_policy.cache_hit_rate == 99
    plane = mesh.mesh_control_plane
    assert plane is not None
    assert (plane.endpoints, plane.virtual_services, plane.lds_latency_ms) == (200, 50, 1020)
    env = read.environment
    assert env is not None and env.kubernetes_version == "gke-1.10.5"
    [node] = env.node
    assert (node.type, node.cores, node.mem_mb, node.count) == ("n32", 32, 4096, 5)
    [workload] = env.individual_workloads
    assert (workload.name, workload.count, workload.cpu_mcores) == ("fortioserver", 2, 55)
    assert read.test_config is not None
    [client] = read.test_config.clients
    assert (client.protocol, client.connections, client.internal) == ("http", 20, False)


# --- Meshery's test configuration -----------------------------------------------------------


def test_merysheys_test_configuration_is_a_configuration() -> None:
    read = read_test_config(LOAD_TEST.read_bytes())
    assert (read.kind, read.shape) == ("test_config", "meshery-test")
    config = read.test_config
    assert config is not None
    assert (config.name, config.duration, config.smp_version) == ("Load Test", "60s", "v0.0.1")
    [client] = config.clients
    # protocol: 1 is PROTOCOL_HTTP in the current proto.
    assert (client.load_generator, client.protocol) == ("fortio", "http")
    assert (client.connections, client.rps, client.internal) == (2, 10, False)
    assert client.endpoint_url == ["https://smp-spec.io"]
    # mesh: {type: 3} is ServiceMesh.Type ISTIO.
    assert read.mesh_config is not None and read.mesh_config.mesh_type == "istio"


def test_the_meshery_configuration_is_detected_but_is_not_a_result() -> None:
    data = LOAD_TEST.read_bytes()
    assert detect(data).name == "smp"
    with pytest.raises(ReaderError, match=r"PerformanceTestConfig .* not a result"):
        smpdoc.read(data)
    result = CliRunner().invoke(cli, ["validate", str(LOAD_TEST)])
    assert result.exit_code == 0, result.output
    assert "an SMP PerformanceTestConfig" in result.stdout


def test_a_result_is_not_a_test_configuration() -> None:
    with pytest.raises(ReaderError, match="is an SMP PerformanceTestResult, not a test config"):
        read_test_config(SAMPLE_RESULT.read_bytes())


# --- documents as protobuf writes them ------------------------------------------------------


def printed(message: Any, *, camel: bool = True) -> bytes:
    """``message`` as protobuf's JSON printer writes it (lowerCamelCase unless told)."""
    return json_format.MessageToJson(message, preserving_proto_field_name=not camel).encode()


def test_a_result_printed_by_protobuf_is_read(smp_pb: SimpleNamespace) -> None:
    message = json_format.ParseDict(
        {
            "smp_version": "0.6.0",
            "id": "r1",
            "start_time": "2024-05-01T12:00:00Z",
            "end_time": "2024-05-01T12:01:00Z",
            "latencies_ms": {"min": 0.5, "average": 1.2, "p50": 1.0, "p90": 2.0, "p99": 3.0},
            "actual_qps": 99.5,
            "details_uri": "https://example.org/r1",
            "test_id": "t1",
            "mesh_config_id": "m1",
            "env_id": "e1",
        },
        smp_pb.PerformanceTestResult(),
    )
    for camel in (True, False):
        data = printed(message, camel=camel)
        assert detect(data).name == "smp"
        read = read_document(data)
        result = read.result
        assert result is not None and read.kind == "result"
        assert (result.latencies_ms.p50, result.latencies_ms.p99) == (1.0, 3.0)
        assert result.actual_qps == 99.5
        assert (result.test_id, result.mesh_config_id, result.env_id) == ("t1", "m1", "e1")
        assert result.details_uri == "https://example.org/r1"
        assert result.end_time == dt.datetime(2024, 5, 1, 12, 1, tzinfo=UTC)


def test_configurations_printed_by_protobuf_are_read(smp_pb: SimpleNamespace) -> None:
    mesh = json_format.ParseDict(
        {
            "id": "m1",
            "mesh_type": {"type": "LINKERD", "version": "2.14.9", "labels": {"tier": "a"}},
            "mesh_build": "2.14.9",
            "mtls_enabled": True,
            "proxy_concurrency": 2,
            "sidecar": {"count": 4, "cpu_mcores": 120, "mem_mb": 80, "rps": 1000, "bps": 5000},
            "ingress_gateway": {"count": 1, "cpu_mcores": 15},
            "mesh_control_plane": {"count": 1, "endpoints": 12, "cds_latency_ms": 40},
            "application_metadata": {
                "application_name": "bookinfo",
                "application_protocol": "PROTOCOL_HTTPS",
            },
            "exp_uuid": "x1",
        },
        smp_pb.ServiceMeshConfig(),
    )
    read = read_document(printed(mesh))
    config = read.mesh_config
    assert read.kind == "mesh_config" and config is not None
    assert (config.mesh_type, config.mesh_version, config.mesh_labels) == (
        "linkerd",
        "2.14.9",
        {"tier": "a"},
    )
    assert config.sidecar is not None
    assert (config.sidecar.count, config.sidecar.cpu_mcores, config.sidecar.bps) == (4, 120, 5000)
    assert config.mesh_control_plane is not None
    assert config.mesh_control_plane.cds_latency_ms == 40
    assert config.application_metadata is not None
    assert config.application_metadata.application_protocol == "https"
    env = json_format.ParseDict(
        {
            "kubernetes_version": "v1.29.1",
            "nodes": [{"type": "c5.large", "cores": 2, "mem_mb": 4096}] * 2,
            "individual_workloads": [{"name": "productpage", "count": 3, "cpu_mcores": 90}],
            "traffic_metadata": {"prometheus_url": "http://prom:9090"},
        },
        smp_pb.EnvironmentConfig(),
    )
    read = read_document(printed(env))
    environment = read.environment
    assert read.kind == "environment" and environment is not None
    assert [(n.type, n.cores, n.mem_mb) for n in environment.node] == [("c5.large", 2, 4096)] * 2
    assert environment.individual_workloads[0].cpu_mcores == 90
    assert environment.traffic_metadata is not None
    assert environment.traffic_metadata.prometheus_url == "http://prom:9090"
    test = json_format.ParseDict(
        {
            "name": "grpc",
            "duration": "30s",
            "clients": [
                {
                    "load_generator": "ghz",
                    "protocol": "PROTOCOL_GRPC",
                    "connections": 16,
                    "rps": 1000,
                    "endpoint_urls": ["grpc://svc:8079"],
                    "cookies": {"a": "b"},
                    "additional_options": "--insecure",
                }
            ],
        },
        smp_pb.PerformanceTestConfig(),
    )
    read = read_document(printed(test))  # rps, an int64, is printed as the text "1000"
    assert read.test_config is not None
    [client] = read.test_config.clients
    assert (client.protocol, client.rps, client.connections) == ("grpc", 1000, 16)
    assert (client.cookies, client.additional_options) == ({"a": "b"}, "--insecure")


# --- enums, v0.1 spellings and their numbers ------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "v01", "expected"),
    [
        (1, False, "http"),
        (4, False, "grpc"),
        ("PROTOCOL_UDP", False, "udp"),
        ("tcp", False, "tcp"),
        (0, True, "http"),
        (1, True, "tcp"),
        (3, True, "grpc"),
    ],
)
def test_protocol_numbers_follow_the_proto_the_document_names(
    protocol: Any, v01: bool, expected: str
) -> None:
    doc: dict[str, Any] = {"clients": [{"protocol": protocol}]}
    doc["smps_version" if v01 else "smp_version"] = "x"
    read = read_document(as_json(doc))
    assert read.test_config is not None and read.test_config.clients[0].protocol == expected


@pytest.mark.parametrize(
    ("mesh_type", "v01", "expected"),
    [
        (3, False, "istio"),
        ({"type": 12}, False, "cilium"),
        ("TRAEFIK_MESH", False, "traefik_mesh"),
        ({"type": 2}, True, "istio"),
        (5, True, "maesh"),
        ("kuma", False, "kuma"),
    ],
)
def test_mesh_types_follow_the_proto_the_document_names(
    mesh_type: Any, v01: bool, expected: str
) -> None:
    doc: dict[str, Any] = {"mesh_type": mesh_type}
    doc["smps_version" if v01 else "smp_version"] = "x"
    read = read_document(as_json(doc))
    assert read.mesh_config is not None and read.mesh_config.mesh_type == expected


def test_invalid_enum_values_name_the_field_and_the_known_values() -> None:
    problems = normalize({"clients": [{"protocol": 0}, {"protocol": 9}]}).problems
    assert [(p.path, p.rule) for p in problems] == [
        ("clients[0].protocol", "enum"),
        ("clients[1].protocol", "enum"),
    ]
    assert "PROTOCOL_INVALID" in problems[0].message
    assert "1 http, 2 tcp, 3 udp, 4 grpc" in problems[1].message
    [problem] = normalize({"meshType": {"type": 0}}).problems
    assert (problem.path, problem.rule) == ("meshType.type", "enum")


def test_the_v01_spellings_are_read() -> None:
    result = read_document(
        as_json(
            {"smps_version": "v0.1", "latencies_ms": {"p50": 2}, "actual_QPS": 10, "testId": "t"}
        )
    ).result
    assert result is not None and (result.actual_qps, result.test_id) == (10, "t")
    mesh = read_document(as_json({"mesh_build": "1.5", "sidecar": {"cpu_mCores": 3000}}))
    assert mesh.mesh_config is not None and mesh.mesh_config.sidecar is not None
    assert mesh.mesh_config.sidecar.cpu_mcores == 3000
    env = read_document(as_json({"node": [{"cores": 4}], "kubernetes_version": "1.14"}))
    assert env.environment is not None and env.environment.node[0].cores == 4


def test_numbers_written_as_text_are_numbers_but_nan_is_refused() -> None:
    read = read_document(as_json({"latenciesMs": {"p50": "1.5"}, "actualQps": "12"}))
    assert read.result is not None
    assert (read.result.latencies_ms.p50, read.result.actual_qps) == (1.5, 12)
    assert problems_of({"latenciesMs": {"p50": "NaN"}}) == [("latenciesMs.p50", "finite-number")]


# --- what is refused, and where -------------------------------------------------------------


def test_unknown_fields_stay_errors_at_their_path_with_a_suggestion() -> None:
    problems = normalize({"latenciesMs": {"p50": 1}, "detailUri": "x"}).problems
    [problem] = problems
    assert (problem.path, problem.rule) == ("detailUri", "additionalProperties")
    assert "did you mean 'detailsUri'?" in problem.message
    nested = {"clients": [{"endpointUrls": ["u"], "endpoint": "v"}]}
    assert problems_of(nested) == [("clients[0].endpoint", "additionalProperties")]


def test_schema_problems_are_named_as_the_document_spells_the_field() -> None:
    assert problems_of({"latenciesMs": {"p50": -1}}) == [("latenciesMs.p50", "minimum")]
    doc = {"kubernetesVersion": "v1", "nodes": [{"memMb": "lots"}]}
    assert problems_of(doc) == [("nodes[0].memMb", "type")]
    legacy = {"client": {"latencies_ms": {"p50": "x"}, "rps": 3}}
    assert problems_of(legacy) == [("client.latencies_ms.p50", "type")]


def test_one_field_in_two_spellings_is_refused() -> None:
    assert problems_of({"latencies_ms": {"p50": 1}, "actual_qps": 1, "actualQps": 1}) == [
        ("(document)", "not")
    ]
    assert problems_of({"mesh_build": "1.2", "mesh_type": {"type": 3, "version": "1.3"}}) == [
        ("mesh_type", "mesh-type-consistent")
    ]
    assert problems_of({"mesh_build": "1.2", "mesh_type": {"type": 3, "version": "1.2"}}) == []


def test_a_document_that_is_no_smp_message_says_what_each_would_have() -> None:
    [problem] = normalize({"hello": 1}).problems
    assert problem.rule == "smp-message"
    assert "a test configuration clients" in problem.message


def test_meshmarks_reserved_labels_must_be_fields_it_writes() -> None:
    doc = {"latencies_ms": {"p50": 1}, "labels": {"meshmark.io/p42": "1", "team": "a"}}
    assert problems_of(doc) == [("labels.meshmark.io/p42", "meshmark-label")]
    fine = {"latencies_ms": {"p50": 1}, "labels": {"meshmark.io/latencies_ms.p95": "2.5"}}
    read = read_document(as_json(fine))
    assert read.result is not None and read.result.latencies_ms.p95 == 2.5


def test_a_bundle_in_the_protos_spellings_is_valid() -> None:
    bundle = {
        "profile": "http-1k",
        "environment": {"kubernetesVersion": "v1.29.1", "nodes": [{"cores": 2, "memMb": "4096"}]},
        "mesh_config": {"meshType": "ISTIO", "meshBuild": "1.20.3", "mtlsEnabled": True},
        "runs": [
            {"role": "baseline", "latenciesMs": {"p50": 1, "p99": 2}, "actualQps": 1000},
            {"role": "mesh", "latenciesMs": {"p50": 2, "p99": 4}, "actualQps": 999},
        ],
    }
    report = read_submission(yaml.safe_dump(bundle).encode(), native_alone=True)
    assert report.ok, report.problems
    assert report.bundle is not None
    assert report.bundle.mesh_config.mesh_type == "istio"
    assert report.bundle.environment.node[0].mem_mb == 4096
    assert [run.profile_id for run in report.bundle.runs] == ["http-1k", "http-1k"]
