"""Limits on what one SMP document may hold, answered at the door (400, problem+json).

Each over-limit body is still stored verbatim and marked rejected with the same
problems, and nothing else happens: no results, nothing queued.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.test import Client, override_settings

from ingest import reading
from ingest.models import Result, Submission

from ..factories import multipart_form
from .conftest import make_bundle, make_run, post_json

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def refused(api: Client, capture: Capture, body: bytes | str, content_type: str) -> dict[str, Any]:
    """POST ``body``; expect a 400 problem, one rejected submission and nothing else."""
    with capture() as callbacks:
        response = api.post("/api/v1/submissions", data=body, content_type=content_type)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == 400
    stored = Submission.objects.get()
    assert problem["submission"] == {"id": str(stored.pk), "status": "rejected"}
    assert stored.status == Submission.Status.REJECTED
    assert bytes(stored.raw) == (body.encode() if isinstance(body, str) else body)
    assert stored.errors == problem["errors"]
    assert callbacks == []  # nothing queued for processing
    assert Result.objects.count() == 0
    return problem


def rules(problem: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["path"], e["rule"]) for e in problem["errors"]}


def test_a_document_nested_too_deep_is_refused_naming_where(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    nested: dict[str, Any] = {}
    doc["labels"] = {"a": nested}
    for _ in range(40):  # the bundle is level 1, labels 2, then 41 more
        nested["a"] = nested = {}
    problem = refused(api, django_capture_on_commit_callbacks, json.dumps(doc), "application/json")
    deepest = "labels" + ".a" * 31
    assert rules(problem) == {(deepest, "max-depth")}
    assert "32 levels" in problem["errors"][0]["message"]


def test_yaml_beyond_the_parsers_own_ceiling_reports_the_same_rule(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    body = "runs:\n" + "".join("  " * i + "- \n" for i in range(1, 80)) + "  " * 80 + "- x\n"
    problem = refused(api, django_capture_on_commit_callbacks, body, "application/yaml")
    assert rules(problem) == {("", "max-depth")}


def test_a_bundle_with_too_many_runs_is_refused(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    doc["runs"] += [make_run("mesh", p50=2.0, p99=5.0) for _ in range(99)]
    assert len(doc["runs"]) == 101  # the bundle schema's maxItems is 100
    problem = refused(api, django_capture_on_commit_callbacks, json.dumps(doc), "application/json")
    assert rules(problem) == {("runs", "max-runs")}
    assert "at most 100 runs; this one has 101" in problem["errors"][0]["message"]


def test_a_setting_lowers_the_number_of_runs(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    doc["runs"].append(make_run("mesh", p50=2.0, p99=5.0))
    with override_settings(SUBMISSION_MAX_RUNS=2):
        problem = refused(
            api, django_capture_on_commit_callbacks, json.dumps(doc), "application/json"
        )
    assert rules(problem) == {("runs", "max-runs")}


def test_an_overlong_string_is_refused_by_field_path(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    doc["runs"][1]["load_generator"]["name"] = "f" * 4097
    body = yaml.safe_dump(doc)
    problem = refused(api, django_capture_on_commit_callbacks, body, "application/yaml")
    assert rules(problem) == {("runs[1].load_generator.name", "max-string-length")}
    assert "4096 characters; this has 4097" in problem["errors"][0]["message"]


def test_an_overlong_field_name_is_refused(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    doc["environment"]["k" * 5000] = 1
    problem = refused(api, django_capture_on_commit_callbacks, json.dumps(doc), "application/json")
    assert rules(problem) == {("environment", "max-string-length")}


def test_too_many_histogram_buckets_are_refused(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    doc["runs"][0]["histogram"] = [
        {"start_ms": i, "end_ms": i + 1, "count": 1} for i in range(10_001)
    ]
    problem = refused(api, django_capture_on_commit_callbacks, json.dumps(doc), "application/json")
    assert rules(problem) == {("runs[0].histogram", "max-histogram-buckets")}
    assert "at most 10000 buckets; this one has 10001" in problem["errors"][0]["message"]


def test_a_lone_result_is_checked_by_its_own_paths(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    run = make_run("mesh", p50=2.0, p99=5.0)
    run["histogram"] = [{"start_ms": i, "end_ms": i + 1, "count": 1} for i in range(3)]
    run["id"] = "r" * 4097
    with override_settings(SUBMISSION_MAX_HISTOGRAM_BUCKETS=2):
        problem = refused(
            api, django_capture_on_commit_callbacks, json.dumps(run), "application/json"
        )
    assert rules(problem) == {("histogram", "max-histogram-buckets"), ("id", "max-string-length")}


def test_an_overlong_form_field_is_refused(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    body, content_type = multipart_form(
        {"profile": "http-1k", "mesh_type": "istio", "mesh_version": "1" * 5000},
        {"baseline": [("b.json", b"{}")], "mesh": [("m.json", b"{}")]},
    )
    problem = refused(api, django_capture_on_commit_callbacks, body, content_type)
    assert rules(problem) == {("mesh_version", "max-string-length")}


def test_native_output_and_long_request_bodies_keep_the_schemas_longer_caps(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    doc["runs"][1]["raw"] = {"format": "fortio", "content": "x" * 100_000}
    doc["config"] = {"clients": [{"body": "y" * 50_000}]}
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(api, doc)
    assert response.status_code == 202, response.content
    assert Submission.objects.get().status == Submission.Status.ACCEPTED


def test_a_bundle_at_every_limit_is_accepted(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    doc["labels"] = {"note": "n" * 1024}
    at_limits = override_settings(
        SUBMISSION_MAX_RUNS=2, SUBMISSION_MAX_DEPTH=5, SUBMISSION_MAX_STRING_LENGTH=1024
    )
    # runs[1].latencies_ms is level 4; nothing in the bundle is deeper than 5.
    with at_limits, django_capture_on_commit_callbacks(execute=True):
        response = post_json(api, doc)
    assert response.status_code == 202, response.content
    assert Submission.objects.get().status == Submission.Status.ACCEPTED


def test_settings_cannot_raise_a_limit_past_the_schemas_cap() -> None:
    with override_settings(SUBMISSION_MAX_RUNS=500, SUBMISSION_MAX_HISTOGRAM_BUCKETS=50_000):
        limits = reading.limits()
    assert (limits.max_runs, limits.max_histogram_buckets) == (100, 10_000)


def test_a_forms_environment_is_checked_as_a_document_not_as_one_text() -> None:
    node = {"type": "n2-standard-8", "cores": 8, "mem_mb": 32768, "arch": "amd64", "count": 1}
    environment = json.dumps({"node": [node] * 100})
    assert len(environment) > 4096
    fields = {"profile": "http-1k", "mesh_type": "istio", "environment": environment}
    files = {"baseline": [("b.json", b"{}")], "mesh": [("m.json", b"{}")]}
    body, content_type = multipart_form(fields, files)
    assert reading.read_at_door(body=body, content_type=content_type).format == "multipart"
    fields["environment"] = json.dumps({"labels": {"k": "v" * 5000}})
    body, content_type = multipart_form(fields, files)
    verdict = reading.read_at_door(body=body, content_type=content_type)
    assert rules({"errors": [p.as_dict() for p in verdict.errors]}) == {
        ("environment.labels.k", "max-string-length")
    }
