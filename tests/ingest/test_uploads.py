"""Native outputs uploaded as multipart (API and web form), and every shared sample."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ingest.models import Membership, Organization, Result, Submission

from ..conftest import sample_files
from ..factories import multipart_form

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def _multipart(api: Client, capture: Capture, baseline: bytes, mesh: bytes, **fields: str) -> Any:
    form = {"profile": "http-1k", "mesh_type": "istio", "mesh_version": "1.24.1", "mtls": "true"}
    form.update(fields)
    body, content_type = multipart_form(
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
    body, content_type = multipart_form({"mtls": "maybe"}, {"mesh": [("m", b"{}")]})
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


# What each shared sample is, and so what the index must answer (samples/SOURCES.md):
# - as a raw body, a tool's JSON output is refused 415 with a hint naming the tool; text
#   outputs, and a JSON list, are not SMP documents at all and are refused 400 malformed;
# - as the baseline and mesh files of a form, an output of one run is accepted; a file
#   that holds several runs is rejected "one-run"; a file no reader understands (a k6
#   script, nighthawk's golden renderings other than its JSON and fortio ones, hlogs of
#   an old encoding) is rejected "readable".
TOOL_JSON = {
    "fortio/fortio_0.8.1_http_golden.json": "fortio",
    "fortio/fortio_0.9.0_grpc_ping_readme.json": "fortio",
    "fortio/fortio_1.57.3_http_iter8.json": "fortio",
    "fortio/fortio_readme_http_rest_result.json": "fortio",
    "fortio/nighthawk_samples_fortio_large.json": "fortio",
    "fortio/nighthawk_samples_fortio_small.json": "fortio",
    "fortio/nighthawk_transform_fortio_early.json": "fortio",
    "k6/handle_summary_data.json": "k6",
    "k6/summary_export.json": "k6",
    "nighthawk/big_sample.json": "nighthawk",
    "nighthawk/circllhist_proto_json.gold": "nighthawk",
    "nighthawk/full_sample.json": "nighthawk",
    "nighthawk/hdr_proto_json.gold": "nighthawk",
    "nighthawk/large-sample.json": "nighthawk",
    "nighthawk/output_formatter.json.gold": "nighthawk",
    "nighthawk/output_formatter.medium.fortio-noquirks.gold": "fortio",
    "nighthawk/output_formatter.medium.fortio.gold": "fortio",
    "nighthawk/percentile-column-overflow.json": "nighthawk",
}
SEVERAL_RUNS = {
    "hdrhistogram/tagged-Log.logV2.hlog",
    "istio-tools/benchmark.csv",
    "meshery/meshery-results-fortio.json",
}
UNREADABLE = {
    "hdrhistogram/raphael.hlog",
    "k6/script.js",
    "nighthawk/circllhist_proto_json.gold",
    "nighthawk/hdr_proto_json.gold",
    "nighthawk/output_formatter.csv.gold",
    "nighthawk/output_formatter.dotted.gold",
    "nighthawk/output_formatter.json.gold",
    "nighthawk/output_formatter.medium.proto.gold",
    "nighthawk/output_formatter.prometheus.gold",
    "nighthawk/output_formatter.txt.gold",
    "nighthawk/output_formatter.yaml.gold",
    "nighthawk/percentile-column-overflow.json",
    "nighthawk/percentile-column-overflow.txt.gold",
}


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shared_sample_gets_the_answer_its_kind_deserves(
    api: Client, path: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    name = f"{path.parent.name}/{path.name}"
    data = path.read_bytes()

    as_body = _post_raw(api, django_capture_on_commit_callbacks, data)
    refusal = as_body.json()
    stored = Submission.objects.get(pk=refusal["submission"]["id"])
    assert stored.status == "rejected" and bytes(stored.raw) == data
    if name in TOOL_JSON:
        assert as_body.status_code == 415, refusal
        assert [e["rule"] for e in refusal["errors"]] == ["unsupported-format"]
        assert refusal["errors"][0]["message"].startswith(f"this is {TOOL_JSON[name]} output")
    else:
        assert as_body.status_code == 400, refusal
        assert [e["rule"] for e in refusal["errors"]] == ["malformed"]

    as_pair = _multipart(api, django_capture_on_commit_callbacks, data, data)
    assert as_pair.status_code == 202, as_pair.content
    submission = Submission.objects.get(pk=as_pair.json()["id"])
    rules = {e["rule"] for e in submission.errors}
    if name in SEVERAL_RUNS:
        assert (submission.status, rules) == ("rejected", {"one-run"})
    elif name in UNREADABLE:
        assert (submission.status, rules) == ("rejected", {"readable"})
    else:
        assert submission.status == "accepted", submission.errors
        baseline, mesh = submission.results.order_by("run_index")
        assert (baseline.role, mesh.role) == ("baseline", "mesh")
        assert mesh.baseline == baseline and mesh.p50_ms == baseline.p50_ms


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
