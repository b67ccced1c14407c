"""Native outputs uploaded as multipart (API and web form), and every shared sample."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ingest import intake
from ingest.models import Membership, Organization, Result, Submission

from ..conftest import sample_files

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def _multipart(api: Client, capture: Capture, baseline: bytes, mesh: bytes, **fields: str) -> Any:
    form = {"profile": "http-1k", "mesh_type": "istio", "mesh_version": "1.24.1", "mtls": "true"}
    form.update(fields)
    body, content_type = intake.encode_form(
        form, {"baseline": [("baseline.out", baseline)], "mesh": [("mesh.out", mesh)]}
    )
    with capture(execute=True):
        return api.post("/api/v1/submissions", data=body, content_type=content_type)


def test_native_fortio_files_are_accepted_as_a_baseline_and_mesh_pair(
    api: Client, samples: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    baseline = (samples / "fortio" / "fortio_0.8.1_http_golden.json").read_bytes()
    mesh = (samples / "fortio" / "fortio_1.57.3_http_iter8.json").read_bytes()
    response = _multipart(api, django_capture_on_commit_callbacks, baseline, mesh)
    assert response.status_code == 202, response.content
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.detected_format == "multipart"
    assert submission.status == "accepted", submission.errors
    base_row, mesh_row = submission.results.order_by("run_index")
    assert (base_row.role, mesh_row.role) == ("baseline", "mesh")
    assert base_row.load_generator == mesh_row.load_generator == "fortio"
    assert base_row.request_count == 12000
    assert mesh_row.baseline == base_row
    assert mesh_row.mesh_config.mesh_type == "istio" and mesh_row.mesh_config.mtls is True


def test_the_same_files_uploaded_twice_are_one_submission(
    api: Client, samples: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    data = (samples / "fortio" / "fortio_0.8.1_http_golden.json").read_bytes()
    first = _multipart(api, django_capture_on_commit_callbacks, data, data)
    again = _multipart(api, django_capture_on_commit_callbacks, data, data)  # new boundary
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_a_form_missing_fields_is_refused_naming_each(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    body, content_type = intake.encode_form({"mtls": "maybe"}, {"mesh": [("m", b"{}")]})
    response = api.post("/api/v1/submissions", data=body, content_type=content_type)
    assert response.status_code == 400
    paths = {(e["path"], e["rule"]) for e in response.json()["errors"]}
    assert paths == {
        ("baseline", "required"),
        ("profile", "required"),
        ("mesh_type", "required"),
        ("mtls", "boolean"),
    }


def test_an_environment_field_is_validated_by_path(
    api: Client, samples: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    data = (samples / "fortio" / "fortio_0.8.1_http_golden.json").read_bytes()
    env = json.dumps({"kubernetes_version": "1.30", "node": [{"cores": -4}]})
    response = _multipart(api, django_capture_on_commit_callbacks, data, data, environment=env)
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.status == "rejected"
    assert any(e["path"].startswith("environment.node[0].cores") for e in submission.errors)


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shared_sample_ends_accepted_or_rejected_never_500(
    api: Client, path: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    data = path.read_bytes()
    as_body = _post_raw(api, django_capture_on_commit_callbacks, data)
    as_pair = _multipart(api, django_capture_on_commit_callbacks, data, data)
    for response in (as_body, as_pair):
        assert response.status_code in (200, 202, 400, 415), response.content
        body = response.json()
        sub_id = body.get("id") or body.get("submission", {}).get("id")
        submission = Submission.objects.get(pk=sub_id)
        assert submission.status in ("accepted", "rejected")
        if submission.status == "rejected":
            assert submission.errors and all(e["message"] for e in submission.errors)


def _post_raw(api: Client, capture: Capture, data: bytes) -> Any:
    content_type = (
        "application/yaml" if data.lstrip()[:1] not in (b"{", b"[") else "application/json"
    )
    with capture(execute=True):
        return api.post("/api/v1/submissions", data=data, content_type=content_type)


def test_a_member_uploads_through_the_web_page(
    org: Organization, samples: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    user = User.objects.create_user("ana", password="a-long-password-1")
    Membership.objects.create(organization=org, user=user)
    browser = Client()
    assert browser.get("/upload").status_code == 302  # sign in first
    browser.force_login(user)
    page = browser.get("/upload")
    assert page.status_code == 200 and b"acme" in page.content
    fortio = samples / "fortio" / "fortio_0.8.1_http_golden.json"
    with (
        fortio.open("rb") as baseline,
        fortio.open("rb") as mesh,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = browser.post(
            "/upload",
            {
                "organization": org.pk,
                "baseline": baseline,
                "mesh": mesh,
                "profile": "http-1k",
                "mesh_type": "linkerd",
                "mesh_version": "2.16.0",
                "mtls": "on",
            },
        )
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.source == "upload" and submission.submitted_by == user
    assert submission.status == "accepted", submission.errors
    assert Result.objects.filter(mesh_config__mesh_type="linkerd").count() == 1
    detail = browser.get(response["Location"])
    assert b"accepted" in detail.content


def test_a_non_member_cannot_upload_for_an_organization(
    org: Organization, other_org: Organization
) -> None:
    user = User.objects.create_user("eve", password="a-long-password-1")
    browser = Client()
    browser.force_login(user)
    response = browser.post("/upload", {"organization": org.pk, "bundle": b""})
    assert response.status_code == 200
    assert b"not a member of any organization" in response.content
    assert Submission.objects.count() == 0
    # A member of another organization cannot pick this one either.
    Membership.objects.create(organization=other_org, user=user)
    response = browser.post("/upload", {"organization": org.pk, "bundle": b""})
    assert b"Select a valid choice" in response.content
    assert Submission.objects.count() == 0
