from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.test import Client

from ingest import moderation
from ingest.models import Organization, Result

from .conftest import post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> list[str]:
    """Three accepted submissions: istio 1.24 mTLS, linkerd 2.16, istio 1.24 without mTLS."""
    ids = []
    configs = [
        {"mesh_type": "istio", "mesh_version": "1.24.1", "mtls_enabled": True},
        {"mesh_type": "linkerd", "mesh_version": "2.16.0", "mtls_enabled": True},
        {"mesh_type": "istio", "mesh_version": "1.24.1", "mtls_enabled": False},
    ]
    for config in configs:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_json(api, bundle_factory(mesh_config=config))
        assert response.status_code == 202
        ids.append(response.json()["id"])
    return ids


def test_results_are_public_and_filterable(corpus: list[str]) -> None:
    anonymous = Client()
    everything = anonymous.get("/api/v1/results").json()
    assert everything["count"] == 6
    istio = anonymous.get("/api/v1/results", {"mesh": "istio"}).json()
    assert istio["count"] == 2
    assert {r["mesh"]["type"] for r in istio["results"]} == {"istio"}
    plain = anonymous.get("/api/v1/results", {"mesh": "istio", "mtls": "false"}).json()
    assert plain["count"] == 1
    assert anonymous.get("/api/v1/results", {"role": "baseline"}).json()["count"] == 3
    assert anonymous.get("/api/v1/results", {"organization": "acme"}).json()["count"] == 6
    assert anonymous.get("/api/v1/results", {"profile": "http-5k"}).json()["count"] == 0
    env_class = everything["results"][0]["environment"]["class"]
    assert anonymous.get("/api/v1/results", {"environment_class": env_class}).json()["count"] == 6
    assert anonymous.get("/api/v1/results", {"since": "2000-01-01"}).json()["count"] == 6
    assert anonymous.get("/api/v1/results", {"until": "2000-01-01"}).json()["count"] == 0


def test_a_bad_filter_is_a_clear_400(corpus: list[str]) -> None:
    response = Client().get("/api/v1/results", {"since": "last week"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["path"] == "since"


def test_listing_results_costs_a_fixed_number_of_queries(
    corpus: list[str], django_assert_max_num_queries: Callable[..., Any]
) -> None:
    # The listing's state (newest result, score, audit event), the count, the page, its scores.
    with django_assert_max_num_queries(4) as queries:
        response = Client().get("/api/v1/results", {"limit": 100})
    assert response.json()["count"] == 6
    # A run's document and histogram are most of its row and none of the list's.
    listed = next(q["sql"] for q in queries.captured_queries if "LIMIT" in q["sql"])
    assert '"smp"' not in listed and '"histogram"' not in listed
    # Asked again while nothing changed: the state alone, and the same answer.
    with django_assert_max_num_queries(1):
        again = Client().get("/api/v1/results", {"limit": 100})
    assert again.content == response.content
    for format in ({}, {"format": "csv"}):
        full = Client().get("/api/v1/results", format | {"limit": 100})
        assert full.status_code == 200


def test_unlisted_results_and_organizations_leave_the_public_list(
    corpus: list[str], org: Organization
) -> None:
    result = Result.objects.filter(role="mesh").first()
    assert result is not None
    moderation.result_set_listed(result=result, listed=False, reason="duplicate run", actor=None)
    assert Client().get("/api/v1/results").json()["count"] == 5
    assert Client().get(f"/api/v1/results/{result.pk}").status_code == 404
    moderation.organization_set_listed(organization=org, listed=False, reason="spam", actor=None)
    assert Client().get("/api/v1/results").json()["count"] == 0
    result.refresh_from_db()
    assert result.unlisted_reason == "duplicate run"  # kept, not deleted


def test_a_cached_list_moves_with_new_results_and_moderation(
    corpus: list[str],
    org: Organization,
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    def count() -> int:
        return int(Client().get("/api/v1/results", {"limit": 100}).json()["count"])

    assert count() == 6
    assert count() == 6  # served from the cache
    result = Result.objects.filter(role="mesh").first()
    assert result is not None
    moderation.result_set_listed(result=result, listed=False, reason="duplicate run", actor=None)
    assert count() == 5
    mesh = {"mesh_type": "linkerd", "mesh_version": "2.17.0", "mtls_enabled": False}
    with django_capture_on_commit_callbacks(execute=True):
        assert post_json(api, bundle_factory(mesh_config=mesh)).status_code == 202
    assert count() == 7
    page = Client().get("/api/v1/results", {"limit": 1}).json()
    assert len(page["results"]) == 1 and page["count"] == 7  # the URL is part of the key


def test_unlisting_needs_a_reason(corpus: list[str]) -> None:
    result = Result.objects.first()
    assert result is not None
    with pytest.raises(ValueError, match="needs a reason"):
        moderation.result_set_listed(result=result, listed=False, reason=" ", actor=None)


def test_a_result_exports_as_smp_json_and_yaml(corpus: list[str]) -> None:
    result = Result.objects.filter(role="mesh").first()
    assert result is not None
    as_json = Client().get(f"/api/v1/results/{result.pk}", {"format": "smp-json"})
    assert as_json.status_code == 200
    assert as_json["Content-Type"] == "application/json"
    doc = as_json.json()
    assert doc["latencies_ms"]["p99"] == 5.5
    # MeshMark's extension figures travel as labels, as the spec leaves room for.
    assert doc["labels"]["meshmark.io/profile_id"] == "http-1k"
    as_yaml = Client().get(f"/api/v1/results/{result.pk}", {"format": "smp-yaml"})
    assert yaml.safe_load(as_yaml.content) == doc
    assert "attachment" in as_yaml["Content-Disposition"]
    bad = Client().get(f"/api/v1/results/{result.pk}", {"format": "xml"})
    assert bad.status_code == 400


def test_the_exported_result_validates_with_the_smp_library(corpus: list[str]) -> None:
    from smp.submission import read_submission

    result = Result.objects.filter(role="mesh").first()
    assert result is not None
    exported = Client().get(f"/api/v1/results/{result.pk}", {"format": "smp-yaml"}).content
    report = read_submission(exported, native_alone=True)
    assert report.ok, report.problems


def test_profiles_are_seeded_and_listed(db: Any) -> None:
    from smp.profiles import standard_profiles

    body = Client().get("/api/v1/profiles").json()
    assert [p["id"] for p in body] == sorted(p.id for p in standard_profiles())
    http_1k = next(p for p in body if p["id"] == "http-1k")
    assert http_1k["rps"] == 1000 and http_1k["protocol"] == "http"


def test_meshes_and_environments_list_what_has_results(corpus: list[str]) -> None:
    meshes = Client().get("/api/v1/meshes").json()
    assert {(m["mesh_type"], m["mtls"]) for m in meshes} == {
        ("none", None),
        ("istio", True),
        ("istio", False),
        ("linkerd", True),
    }
    environments = Client().get("/api/v1/environments").json()
    assert len(environments) == 1
    assert environments[0]["result_count"] == 6
    assert environments[0]["calibration_score"] == 1000.0


def test_the_openapi_schema_and_docs_are_served(db: Any) -> None:
    schema = Client().get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/submissions" in text and "/api/v1/results/{result_id}" in text
    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page
    assert "cdn." not in page and "unpkg" not in page  # assets come from this server


def test_the_openapi_schema_validates_without_warnings(tmp_path: Any) -> None:
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "organizationToken" in text  # the bearer scheme is documented
    assert "SubmissionStatus" in text and "SubmissionCreated" in text


def test_every_exported_message_parses_strictly_as_the_specs_own(
    corpus: list[str], smp_pb: Any
) -> None:
    """The export is what the SMP protos define: protobuf's strict parser accepts each
    message, unknown fields refused, and the extension document is the only other one."""
    from google.protobuf import json_format

    result = Result.objects.filter(role="mesh").first()
    assert result is not None
    messages = {
        "result": smp_pb.PerformanceTestResult,
        "mesh_config": smp_pb.ServiceMeshConfig,
        "environment": smp_pb.EnvironmentConfig,
    }
    for part, message in messages.items():
        got = Client().get(f"/api/v1/results/{result.pk}", {"format": "smp-json", "part": part})
        assert got.status_code == 200, (part, got.content)
        json_format.Parse(got.content, message(), ignore_unknown_fields=False)
    extensions = (
        Client()
        .get(f"/api/v1/results/{result.pk}", {"format": "smp-json", "part": "extensions"})
        .json()
    )
    assert extensions["extends"] == "smp.PerformanceTestResult"
    assert extensions["id"] == str(result.pk)
    missing = Client().get(f"/api/v1/results/{result.pk}", {"format": "smp-json", "part": "x"})
    assert missing.status_code == 400
