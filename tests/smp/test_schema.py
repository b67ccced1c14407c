from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from smp.consistency import check_bundle
from smp.document import bundle_from_dict, load_schema, parse_document, validate_schema
from smp.model import MESH_TYPES, PROTOCOLS, ROLES
from tests.smp import examples


def paths_and_rules(problems: list[Any]) -> set[tuple[str, str]]:
    return {(p.path, p.rule) for p in problems}


@pytest.mark.parametrize("kind", ["result", "bundle"])
def test_the_shipped_schemas_are_valid_draft_2020_12(kind: Any) -> None:
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_mesh_type_enum_equals_the_models_mesh_types() -> None:
    enum = load_schema("bundle")["$defs"]["mesh_config"]["properties"]["mesh_type"]["enum"]
    assert enum == list(MESH_TYPES)


def test_the_protocol_and_role_enums_equal_the_models() -> None:
    properties = load_schema("result")["properties"]
    assert properties["protocol"]["enum"] == list(PROTOCOLS)
    assert properties["role"]["enum"] == list(ROLES)


def test_the_example_result_and_bundle_are_valid() -> None:
    assert validate_schema(examples.result(), "result") == []
    assert validate_schema(examples.bundle(), "bundle") == []


def test_a_minimal_result_needs_only_latencies() -> None:
    assert validate_schema({"latencies_ms": {"p50": 1.0}}, "result") == []


def test_it_accepts_the_proto_spelling_actual_qps() -> None:
    doc = {"latencies_ms": {"p50": 1.0}, "actual_QPS": 10}
    assert validate_schema(doc, "result") == []


def test_it_rejects_both_spellings_of_actual_qps_at_once() -> None:
    doc = {"latencies_ms": {"p50": 1.0}, "actual_QPS": 10, "actual_qps": 10}
    [problem] = validate_schema(doc, "result")
    assert (problem.path, problem.rule) == ("", "not")
    assert "actual_qps or actual_QPS" in problem.message


def test_it_accepts_the_proto_spelling_cpu_mcores_in_resource_blocks() -> None:
    doc = examples.bundle()
    doc["mesh_config"]["sidecar"] = {"count": 2, "cpu_mCores": 100, "mem_mb": 40}
    assert validate_schema(doc, "bundle") == []


def test_it_rejects_a_negative_percentile_with_its_path_and_keyword() -> None:
    doc = examples.bundle()
    doc["runs"][1]["latencies_ms"]["p99"] = -1
    [problem] = validate_schema(doc, "bundle")
    assert problem.path == "runs[1].latencies_ms.p99"
    assert problem.rule == "minimum"
    assert problem.message == "-1 is less than the minimum of 0"


def test_it_names_an_unknown_field_and_suggests_the_right_one() -> None:
    doc = examples.result()
    doc["latencies_ms"]["p9"] = 2.0
    [problem] = validate_schema(doc, "result")
    assert (problem.path, problem.rule) == ("latencies_ms.p9", "additionalProperties")
    assert "did you mean 'p99'?" in problem.message


def test_it_names_a_missing_required_field() -> None:
    doc = examples.bundle()
    del doc["runs"][0]["latencies_ms"]
    assert paths_and_rules(validate_schema(doc, "bundle")) == {("runs[0].latencies_ms", "required")}


def test_it_requires_at_least_one_run_and_at_most_one_hundred() -> None:
    doc = examples.bundle()
    doc["runs"] = []
    assert paths_and_rules(validate_schema(doc, "bundle")) == {("runs", "minItems")}
    doc["runs"] = [examples.result()] * 101
    assert paths_and_rules(validate_schema(doc, "bundle")) == {("runs", "maxItems")}


def test_it_rejects_a_timestamp_without_a_time_zone() -> None:
    doc = examples.result()
    doc["start_time"] = "2024-05-01T12:00:00"
    [problem] = validate_schema(doc, "result")
    assert (problem.path, problem.rule) == ("start_time", "format")
    assert "RFC 3339" in problem.message


def test_it_accepts_nanosecond_timestamps_and_offsets() -> None:
    doc = examples.result()
    doc["start_time"] = "2020-03-17T14:53:05.499893378Z"
    doc["end_time"] = "2020-03-17T20:23:05+05:30"
    assert validate_schema(doc, "result") == []


def test_it_rejects_an_unknown_mesh_type() -> None:
    doc = examples.bundle()
    doc["mesh_config"]["mesh_type"] = "istioo"
    assert paths_and_rules(validate_schema(doc, "bundle")) == {("mesh_config.mesh_type", "enum")}


def test_it_rejects_too_many_histogram_buckets() -> None:
    doc = examples.result()
    doc["histogram"] = [{"start_ms": i, "end_ms": i + 1, "count": 0} for i in range(10_001)]
    assert paths_and_rules(validate_schema(doc, "result")) == {("histogram", "maxItems")}


def test_it_rejects_overlong_strings() -> None:
    doc = examples.result()
    doc["id"] = "x" * 257
    problems = validate_schema(doc, "result")
    assert paths_and_rules(problems) == {("id", "maxLength")}
    assert len(problems[0].message) <= 240


def test_labels_are_free_form_but_their_values_are_strings() -> None:
    doc = examples.result()
    doc["labels"] = {"anything.goes/here": "yes", "replicas": 3}
    assert paths_and_rules(validate_schema(doc, "result")) == {("labels.replicas", "type")}


def test_it_rejects_wrong_types_and_negative_counts_everywhere_at_once() -> None:
    doc = examples.bundle()
    doc["runs"][0]["request_count"] = "1000"
    doc["runs"][0]["status_codes"]["200"] = -5
    doc["environment"]["node"][0]["count"] = 0
    doc["mesh_config"]["mtls_enabled"] = "yes"
    assert paths_and_rules(validate_schema(doc, "bundle")) == {
        ("runs[0].request_count", "type"),
        ("runs[0].status_codes.200", "minimum"),
        ("environment.node[0].count", "minimum"),
        ("mesh_config.mtls_enabled", "type"),
    }


def test_a_bundle_document_is_not_a_result() -> None:
    problems = validate_schema(examples.bundle(), "result")
    assert ("latencies_ms", "required") in paths_and_rules(problems)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "smp.md"


@pytest.mark.parametrize("language", ["json", "yaml"])
def test_the_bundle_examples_in_the_docs_are_valid_and_consistent(language: str) -> None:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert blocks, f"docs/smp.md has no {language} example"
    for block in blocks:
        doc = parse_document(block.encode())
        assert validate_schema(doc, "bundle") == []
        assert check_bundle(bundle_from_dict(doc)) == []


def test_the_json_example_in_the_docs_is_the_test_suites_bundle() -> None:
    [block] = re.findall(r"```json\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert json.loads(block) == examples.bundle()
