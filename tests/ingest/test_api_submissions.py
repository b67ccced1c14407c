from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from ingest import tokens
from ingest.models import ApiToken, Environment, MeshConfig, Organization, Result, Submission

from .conftest import make_run, post_json

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def submit(api: Client, capture: Capture, doc: Any, **extra: Any) -> Any:
    with capture(execute=True):
        return post_json(api, doc, **extra)


def test_it_accepts_a_bundle_and_stores_the_bytes_verbatim(
    api: Client,
    org: Organization,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    body = json.dumps(bundle_factory(), indent=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/submissions", data=body, content_type="application/json")
    assert response.status_code == 202, response.content
    payload = response.json()
    assert set(payload) == {"id", "status", "url", "duplicate"}
    assert payload["duplicate"] is False
    assert payload["url"].endswith(f"/api/v1/submissions/{payload['id']}")
    submission = Submission.objects.get(pk=payload["id"])
    assert bytes(submission.raw) == body.encode()
    assert submission.organization == org
    assert submission.status == Submission.Status.ACCEPTED
    assert submission.detected_format == "smp"
    results = list(submission.results.order_by("run_index"))
    assert [r.role for r in results] == ["baseline", "mesh"]
    baseline, mesh = results
    assert mesh.baseline == baseline and mesh.ranked
    assert mesh.p99_ms == 5.5 and baseline.p99_ms == 3.0
    assert mesh.mesh_config.mesh_type == "istio" and mesh.mesh_config.mtls is True
    assert baseline.mesh_config.mesh_type == "none"
    assert mesh.sidecar_cpu_mcores == 700.0 and mesh.control_plane_mem_mb == 120.0
    assert mesh.environment.kubernetes_version == "1.30"
    assert mesh.environment.environment_class == "k8s/x86_64/16-31 cores"


def test_the_status_url_shows_the_verdict_and_results(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    created = submit(api, django_capture_on_commit_callbacks, bundle_factory()).json()
    status = api.get(created["url"])
    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "accepted"
    assert body["errors"] == []
    assert [r["role"] for r in body["results"]] == ["baseline", "mesh"]
    result = Client().get(body["results"][1]["url"])
    assert result.status_code == 200
    assert result.json()["latencies_ms"]["p99"] == 5.5


def test_the_same_bytes_twice_return_the_first_submission(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    first = submit(api, django_capture_on_commit_callbacks, bundle_factory())
    second = submit(api, django_capture_on_commit_callbacks, bundle_factory())
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["duplicate"] is True
    assert Submission.objects.count() == 1
    assert Result.objects.count() == 2


def test_the_same_idempotency_key_returns_the_first_submission(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    first = submit(
        api, django_capture_on_commit_callbacks, bundle_factory(), HTTP_IDEMPOTENCY_KEY="run-42"
    )
    changed = bundle_factory(labels={"attempt": "2"})
    second = submit(api, django_capture_on_commit_callbacks, changed, HTTP_IDEMPOTENCY_KEY="run-42")
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert Submission.objects.count() == 1


def test_another_organization_sending_the_same_bytes_is_refused_naming_the_first(
    api: Client,
    other_org: Organization,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # One run counts once (issue 18): the same bytes from a second organization are a
    # replay, stored and refused, never a second result in the aggregates.
    first = submit(api, django_capture_on_commit_callbacks, bundle_factory()).json()["id"]
    _, secret = tokens.token_issue(organization=other_org)
    other = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = submit(other, django_capture_on_commit_callbacks, bundle_factory())
    assert response.status_code == 409
    assert first in response.json()["errors"][0]["message"]
    assert Submission.objects.count() == 2
    assert Submission.objects.get(organization=other_org).status == "rejected"


def test_yaml_bundles_are_accepted(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    import yaml

    body = yaml.safe_dump(bundle_factory())
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/submissions", data=body, content_type="application/yaml")
    assert response.status_code == 202, response.content
    assert Submission.objects.get().status == "accepted"


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "credentials were not provided"),
        ("Bearer mm_deadbeef_wrong", "the token is not valid"),
        ("Bearer ", "no token"),
    ],
)
def test_it_answers_401_without_a_valid_token(
    db: Any, bundle_factory: Callable[..., dict[str, Any]], header: str | None, detail: str
) -> None:
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    response = post_json(client, bundle_factory())
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert detail in response.json()["detail"]
    assert Submission.objects.count() == 0


def test_a_revoked_token_is_refused(
    api: Client, token: tuple[ApiToken, str], bundle_factory: Callable[..., dict[str, Any]]
) -> None:
    tokens.token_revoke(token=token[0])
    response = post_json(api, bundle_factory())
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert Submission.objects.count() == 0


def test_token_use_is_recorded(
    api: Client, token: tuple[ApiToken, str], bundle_factory: Callable[..., dict[str, Any]]
) -> None:
    assert token[0].last_used_at is None
    post_json(api, bundle_factory())
    token[0].refresh_from_db()
    assert token[0].last_used_at is not None
    assert timezone.now() - token[0].last_used_at < timezone.timedelta(minutes=1)


@override_settings(SUBMISSION_MAX_BYTES=1000)
def test_it_answers_413_above_the_size_limit(
    api: Client, bundle_factory: Callable[..., dict[str, Any]]
) -> None:
    response = post_json(api, bundle_factory(labels={"pad": "x" * 2000}))
    assert response.status_code == 413
    body = response.json()
    assert body["errors"][0]["rule"] == "max-size"
    assert "1000 bytes" in body["detail"]
    assert Submission.objects.count() == 0


def test_it_answers_415_for_an_unknown_content_type(api: Client) -> None:
    response = api.post("/api/v1/submissions", data=b"\x00\x01", content_type="image/png")
    assert response.status_code == 415
    assert response.json()["errors"][0]["rule"] == "unsupported-media-type"


def test_it_answers_415_for_a_document_that_is_no_smp_and_keeps_it(api: Client) -> None:
    response = post_json(api, {"hello": "world"})
    assert response.status_code == 415
    body = response.json()
    assert body["errors"][0]["rule"] == "unsupported-format"
    stored = Submission.objects.get(pk=body["submission"]["id"])
    assert stored.status == "rejected"
    assert bytes(stored.raw) == b'{"hello": "world"}'


def test_native_output_posted_as_a_bundle_gets_a_hint(api: Client, samples: Any) -> None:
    data = (samples / "fortio" / "fortio_1.57.3_http_iter8.json").read_bytes()
    response = api.post("/api/v1/submissions", data=data, content_type="application/json")
    assert response.status_code == 415
    assert "fortio output" in response.json()["detail"]


def test_malformed_json_is_refused_with_its_line_and_column(api: Client) -> None:
    response = api.post(
        "/api/v1/submissions",
        data=b'{"profile": "http-1k",\n "runs": [}',
        content_type="application/json",
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["rule"] == "malformed"
    assert "line 2" in error["message"]
    assert Submission.objects.get().status == "rejected"


def test_nan_is_refused(api: Client) -> None:
    body = json.dumps({"profile": "http-1k", "runs": [make_run("mesh", p50=1, p99=2)]}).replace(
        '"p50": 1', '"p50": NaN'
    )
    response = api.post("/api/v1/submissions", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "NaN" in response.json()["errors"][0]["message"]


def test_yaml_alias_bombs_are_refused(api: Client) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    bomb += "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nruns: [*c]\n"
    response = api.post("/api/v1/submissions", data=bomb, content_type="application/yaml")
    assert response.status_code == 400
    assert "aliases" in response.json()["errors"][0]["message"]


def test_an_empty_body_is_refused(api: Client) -> None:
    response = api.post("/api/v1/submissions", data=b"  ", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["rule"] == "required"


def _verdict(api: Client, capture: Capture, doc: Any) -> dict[str, Any]:
    response = submit(api, capture, doc)
    assert response.status_code == 202, response.content
    body: dict[str, Any] = api.get(response.json()["url"]).json()
    return body


def test_percentiles_out_of_order_are_rejected_by_field_path(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    doc = bundle_factory()
    doc["runs"][1]["latencies_ms"]["p90"] = 9.0  # above p99 = 5.5
    body = _verdict(api, django_capture_on_commit_callbacks, doc)
    assert body["status"] == "rejected"
    assert any(
        e["path"].startswith("runs[1].latencies_ms") and e["rule"] == "percentiles-ordered"
        for e in body["errors"]
    ), body["errors"]
    assert Result.objects.count() == 0


def test_negative_latencies_are_rejected(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    doc = bundle_factory()
    doc["runs"][0]["latencies_ms"]["min"] = -1.0
    body = _verdict(api, django_capture_on_commit_callbacks, doc)
    assert body["status"] == "rejected"
    assert any(e["path"] == "runs[0].latencies_ms.min" for e in body["errors"]), body["errors"]


def test_seconds_written_as_milliseconds_are_rejected(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    doc = bundle_factory()
    for run in doc["runs"]:
        run["latencies_ms"] = {k: v / 1000 for k, v in run["latencies_ms"].items()}
    body = _verdict(api, django_capture_on_commit_callbacks, doc)
    assert body["status"] == "rejected"
    assert any(e["rule"] == "latency-looks-like-seconds" for e in body["errors"]), body["errors"]


def test_an_unknown_profile_is_rejected_naming_the_known_ones(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    doc = bundle_factory(profile="http-9000")
    for run in doc["runs"]:
        run["profile_id"] = "http-9000"
    body = _verdict(api, django_capture_on_commit_callbacks, doc)
    assert body["status"] == "rejected"
    error = next(e for e in body["errors"] if e["path"] == "profile")
    assert error["rule"] == "known-profile"
    assert "http-1k" in error["message"]


def test_a_schema_typo_is_rejected_by_path(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    doc = bundle_factory()
    doc["mesh_config"]["mtls_enbled"] = True
    body = _verdict(api, django_capture_on_commit_callbacks, doc)
    assert body["status"] == "rejected"
    assert any("mtls_enbled" in e["message"] for e in body["errors"]), body["errors"]


def test_a_mesh_run_without_baseline_is_accepted_but_unranked(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    doc = bundle_factory()
    doc["runs"] = [doc["runs"][1]]
    body = _verdict(api, django_capture_on_commit_callbacks, doc)
    assert body["status"] == "accepted"
    (result,) = body["results"]
    assert result["ranked"] is False
    assert "no baseline" in result["unranked_reason"]
    assert Result.objects.get().ranked is False


def test_submissions_of_other_organizations_are_not_visible(
    api: Client,
    other_org: Organization,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    created = submit(api, django_capture_on_commit_callbacks, bundle_factory()).json()
    _, secret = tokens.token_issue(organization=other_org)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get(created["url"]).status_code == 404
    assert Client().get(created["url"]).status_code == 404


def test_it_answers_429_when_a_token_submits_too_fast(
    api: Client, bundle_factory: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.cache import cache

    from ingest.auth import SubmissionRateThrottle

    monkeypatch.setattr(SubmissionRateThrottle, "THROTTLE_RATES", {"submissions": "2/minute"})
    cache.clear()
    codes = [post_json(api, bundle_factory(labels={"n": str(i)})).status_code for i in range(3)]
    cache.clear()
    assert codes[:2] == [202, 202]
    assert codes[2] == 429
    assert Submission.objects.count() == 2


def test_environments_and_mesh_configs_are_shared_not_copied(
    api: Client,
    bundle_factory: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    for i in range(3):
        submit(api, django_capture_on_commit_callbacks, bundle_factory(labels={"n": str(i)}))
    assert Environment.objects.count() == 1
    assert MeshConfig.objects.count() == 2  # none (baselines) and istio
    assert Result.objects.count() == 6


def test_a_malformed_bundle_is_answered_400_naming_the_field_not_415(api: Client) -> None:
    response = api.post("/api/v1/submissions", data={"runs": "x"}, content_type="application/json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"] == [
        {"path": "runs", "rule": "type", "message": "must be an array, got a string"}
    ]
    assert Submission.objects.get(pk=body["submission"]["id"]).status == "rejected"


def test_an_upload_costs_the_same_queries_whoever_issued_the_token(
    org: Organization, django_assert_num_queries: Callable[..., Any]
) -> None:
    # The token with its organization and creator, and one INSERT that checks for the same
    # content itself (ON CONFLICT, and a NOT EXISTS for another organization's): no
    # separate look-up, no transaction of its own. The queue publish is Redis.
    from django.contrib.auth.models import User

    creator = User.objects.create_user("ana")
    _, secret = tokens.token_issue(organization=org, name="web", created_by=creator)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    api.post("/api/v1/submissions", data={}, content_type="application/json")  # last_used_at
    from tests.factories import make_bundle

    doc = make_bundle()
    with django_assert_num_queries(2):
        response = api.post("/api/v1/submissions", data=doc, content_type="application/json")
    assert response.status_code == 202, response.content
