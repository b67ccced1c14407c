"""Canonical SMP export, checked by a strict protobuf parser built from the spec's own protos.

The protos are compiled at test time with grpcio-tools' protoc from
``shared/real-data/smp-repo-artifacts/smp-spec/protos/`` (never copied here), and
every exported document is parsed with ``ignore_unknown_fields=False``: a field
the spec does not define fails the test. Then the documents are read back and
every figure must be the one exported.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings

from smp.builders import bundle_from_dict
from smp.document import parse_document
from smp.model import (
    Bundle,
    Client,
    PerformanceTestConfig,
    ResourceUsage,
    ServiceMeshConfig,
    _clean,
)
from smp.readers import get_reader
from smp.spec.export import (
    ExportError,
    SmpExport,
    export_mesh_config,
    export_result,
    export_run,
    export_test_config,
    to_yaml,
)
from smp.spec.read import SpecError, import_run
from tests.smp import examples
from tests.smp.strategies import bundles

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"
MESSAGES = {
    "result": "PerformanceTestResult",
    "mesh_config": "ServiceMeshConfig",
    "environment": "EnvironmentConfig",
    "test_config": "PerformanceTestConfig",
}


def strict(smp_pb: SimpleNamespace, kind: str, doc: dict[str, Any]) -> Any:
    """``doc`` parsed as the spec's message, from its JSON text and from its YAML."""
    message = getattr(smp_pb, MESSAGES[kind])
    from_json = json_format.Parse(json.dumps(doc), message(), ignore_unknown_fields=False)
    from_yaml = json_format.ParseDict(yaml.safe_load(to_yaml(doc)), message())
    assert from_json == from_yaml
    return from_json


def import_export(exported: SmpExport, *, via_yaml: bool = False) -> Bundle:
    docs = exported.documents()
    if via_yaml:
        docs = {name: parse_document(to_yaml(doc).encode()) for name, doc in docs.items()}
    return import_run(
        docs["result"],
        mesh_config=docs.get("mesh_config"),
        environment=docs.get("environment"),
        test_config=docs.get("test_config"),
        extensions=docs.get("extensions"),
    )


def unlinked(bundle: Bundle) -> Bundle:
    """``bundle`` without its runs' links to their configurations.

    In a bundle a run's configurations are the bundle's: the export links each
    result to the documents written beside it, whatever the run said before.
    """
    runs = [
        dataclasses.replace(run, test_id=None, mesh_config_id=None, env_id=None)
        for run in bundle.runs
    ]
    return dataclasses.replace(bundle, runs=runs)


def figures(bundle: Bundle, index: int, back: Bundle) -> tuple[Any, Any]:
    """The original run and configurations, and the imported ones, as documents.

    Export fills in what the model leaves out: the result's links to the other
    documents, the configurations' smp_version, the mesh configuration's profile
    and the test configuration's id (the bundle's profile); nothing else may differ.
    """
    run, got = bundle.runs[index].to_dict(), back.runs[0].to_dict()
    for link in ("test_id", "mesh_config_id", "env_id"):
        got.pop(link, None)
    parts = [
        (bundle.mesh_config, back.mesh_config, ("smp_version", "profile")),
        (bundle.environment, back.environment, ("smp_version",)),
        (bundle.config, back.config, ("smp_version", "id")),
    ]
    original: list[Any] = [run]
    imported: list[Any] = [got]
    for mine, theirs, filled in parts:
        mine_doc, theirs_doc = _clean(mine), _clean(theirs)
        for name in filled:
            if isinstance(mine_doc, dict) and name not in mine_doc and isinstance(theirs_doc, dict):
                theirs_doc.pop(name, None)
        original.append(mine_doc)
        imported.append(theirs_doc)
    return tuple(original), tuple(imported)


# --- the documentation's bundle ------------------------------------------------------------


def test_every_document_of_a_run_parses_strictly_as_the_specs_message(
    smp_pb: SimpleNamespace,
) -> None:
    bundle = bundle_from_dict(examples.bundle())
    exported = export_run(bundle, 1)
    for kind, doc in exported.documents().items():
        if kind != "extensions":
            strict(smp_pb, kind, doc)
    result = strict(smp_pb, "result", exported.result)
    assert result.latencies_ms.p99 == 3.5
    assert result.actual_qps == 100.0
    assert result.test_id == "http-100"
    assert dict(result.labels)["meshmark.io/latencies_ms.p95"] == "2.8"
    mesh = strict(smp_pb, "mesh_config", exported.mesh_config)
    assert mesh.mesh_type.type == smp_pb.ServiceMesh.ISTIO
    assert (mesh.mesh_build, mesh.mesh_type.version) == ("1.24.1", "1.24.1")
    assert mesh.sidecar.cpu_mcores == 96  # int32 in the proto; 95.5 is in a label
    assert dict(mesh.labels)["meshmark.io/sidecar.cpu_mcores"] == "95.5"
    env = strict(smp_pb, "environment", exported.environment)
    assert len(env.nodes) == 3 and env.nodes[0].mem_mb == 32768  # count: 3 nodes, one by one
    config = strict(smp_pb, "test_config", exported.test_config or {})
    assert config.clients[0].protocol == smp_pb.PerformanceTestConfig.Client.PROTOCOL_HTTP
    assert config.clients[0].rps == 100


def test_meshmarks_own_document_is_not_the_specs_and_the_parser_says_so(
    smp_pb: SimpleNamespace,
) -> None:
    # What ?format=smp-json served before: MeshMark's names and extensions at the top level.
    with pytest.raises(json_format.ParseError, match="has no field named"):
        json_format.Parse(json.dumps(examples.result()), smp_pb.PerformanceTestResult())


def test_the_docs_bundle_comes_back_with_every_figure() -> None:
    bundle = bundle_from_dict(examples.bundle())
    for index in range(len(bundle.runs)):
        for via_yaml in (False, True):
            back = import_export(export_run(bundle, index), via_yaml=via_yaml)
            original, imported = figures(bundle, index, back)
            assert imported == original


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bundles)
def test_any_bundle_exports_as_strict_smp_and_comes_back_whole(
    smp_pb: SimpleNamespace, bundle: Bundle
) -> None:
    bundle = unlinked(bundle)
    for index in range(len(bundle.runs)):
        exported = export_run(bundle, index)
        for kind, doc in exported.documents().items():
            if kind != "extensions":
                strict(smp_pb, kind, doc)
        back = import_export(exported, via_yaml=index % 2 == 1)
        original, imported = figures(bundle, index, back)
        assert imported == original


def test_a_protobuf_reprint_keeps_every_figure_but_the_zeros_proto3_cannot_tell(
    smp_pb: SimpleNamespace,
) -> None:
    """Parsed and printed again by protobuf (no field presence in the spec's protos): a figure
    that is 0 or false is dropped, as proto3 cannot tell it from "not set"; all else stays."""
    bundle = bundle_from_dict(examples.bundle())
    exported = export_run(bundle, 1)
    reprinted = {
        kind: json_format.MessageToDict(strict(smp_pb, kind, doc), preserving_proto_field_name=True)
        for kind, doc in exported.documents().items()
        if kind != "extensions"
    }
    back = import_run(
        reprinted["result"],
        mesh_config=reprinted["mesh_config"],
        environment=reprinted["environment"],
        test_config=reprinted["test_config"],
        extensions=exported.extensions,
    )
    original, imported = figures(bundle, 1, back)
    assert original[2:] == imported[2:] and original[0] == imported[0]
    assert original[1]["mesh_policy_enabled"] is False
    assert "mesh_policy_enabled" not in imported[1]
    assert {**imported[1], "mesh_policy_enabled": False} == original[1]


# --- real results --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample",
    [
        "fortio/fortio_1.57.3_http_iter8.json",
        "fortio/fortio_0.9.0_grpc_ping_readme.json",
        "nighthawk/full_sample.json",
        "hey/hey_summary.txt",
        "wrk2/wrk2_latency.txt",
        "k6/summary_export.json",
    ],
)
def test_converted_real_outputs_export_strictly_and_come_back(
    smp_pb: SimpleNamespace, sample: str
) -> None:
    data = (SAMPLES / sample).read_bytes()
    from smp.readers import detect

    results = get_reader(detect(data).name).read(data)
    bundle = Bundle(runs=results, mesh_config=ServiceMeshConfig(mesh_type="linkerd"))
    for index in range(len(results)):
        exported = export_run(bundle, index)
        parsed = strict(smp_pb, "result", exported.result)
        assert parsed.latencies_ms.p50 == results[index].latencies_ms.p50
        original, imported = figures(bundle, index, import_export(exported))
        assert imported == original


# --- what cannot be exported ---------------------------------------------------------------


def test_a_label_in_meshmarks_reserved_prefix_is_refused() -> None:
    result = bundle_from_dict(examples.bundle()).runs[0]
    result.labels["meshmark.io/p95"] = "1"
    with pytest.raises(ExportError, match=r"result.labels: 'meshmark.io/p95' uses the prefix"):
        export_result(result)


def test_a_figure_beyond_the_protos_int32_is_refused_with_its_path() -> None:
    mesh = ServiceMeshConfig(mesh_type="istio", sidecar=ResourceUsage(mem_mb=3e9))
    with pytest.raises(ExportError, match=r"sidecar.mem_mb: 3000000000.0 does not fit"):
        export_mesh_config(mesh)


def test_a_mesh_type_the_enum_lacks_travels_as_a_label(smp_pb: SimpleNamespace) -> None:
    doc = export_mesh_config(ServiceMeshConfig(mesh_type="haproxy", mesh_version="2.6"))
    parsed = strict(smp_pb, "mesh_config", doc)
    assert parsed.mesh_type.type == smp_pb.ServiceMesh.INVALID_MESH
    assert dict(parsed.labels)["meshmark.io/mesh_type"] == "haproxy"
    back = import_run({"latencies_ms": {"p50": 1}}, mesh_config=doc)
    assert back.mesh_config.mesh_type == "haproxy"


def test_a_fractional_rate_keeps_its_digits_beside_the_int64(smp_pb: SimpleNamespace) -> None:
    config = PerformanceTestConfig(clients=[Client(protocol="grpc", rps=0.5)])
    doc = export_test_config(config)
    parsed = strict(smp_pb, "test_config", doc)
    assert parsed.clients[0].rps == 0  # int64 in the proto (rounded half to even)
    assert parsed.clients[0].protocol == smp_pb.PerformanceTestConfig.Client.PROTOCOL_GRPC
    back = import_run({"latencies_ms": {"p50": 1}}, test_config=doc)
    assert back.config is not None and back.config.clients[0].rps == 0.5


def test_an_extension_document_for_another_result_is_refused() -> None:
    exported = export_run(bundle_from_dict(examples.bundle()), 0)
    extensions = dict(exported.extensions or {}, id="someone-else")
    with pytest.raises(SpecError, match=r"extensions.id: extends result 'someone-else'"):
        import_run(exported.result, extensions=extensions)
