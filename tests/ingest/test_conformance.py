"""Conformance reports through the real pipeline: API, command line, verbatim storage, verdicts."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from ingest.models import ConformanceReport, Organization, Submission
from tests.factories import multipart_form
from tests.smp.test_conformance import REAL, read

pytestmark = pytest.mark.django_db

ISTIO_1_24 = "v1.2.1/istio-istio/experimental-1.24-default-report.yaml"
BUOYANT = "v1.3.0/buoyant-enterprise-for-linkerd/standard-2.18-default-report.yaml"


@pytest.fixture
def api(api: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """The token's client, with the processing queued on commit run at once (eager)."""

    class Eager:
        def post(self, *args: Any, **kwargs: Any) -> Any:
            with django_capture_on_commit_callbacks(execute=True):
                return api.post(*args, **kwargs)

        def get(self, *args: Any, **kwargs: Any) -> Any:
            return api.get(*args, **kwargs)

    return Eager()


def post(api: Any, body: bytes, content_type: str = "application/yaml") -> Any:
    return api.post("/api/v1/conformance", data=body, content_type=content_type)


def test_a_report_is_stored_verbatim_processed_and_kept(api: Any, org: Organization) -> None:
    body = read(ISTIO_1_24)

    response = post(api, body)

    assert response.status_code == 202, response.content
    submission = Submission.objects.get(pk=response.json()["id"])
    assert bytes(submission.raw) == body and submission.kind == "conformance"
    assert submission.status == "accepted" and submission.errors == []
    assert submission.detected_format == "gateway-api-conformance"
    report = ConformanceReport.objects.get(submission=submission)
    assert (report.mesh_type, report.mesh_version, report.organization) == ("istio", "1.24", org)
    assert report.gateway_api_version == "v1.2.1" and report.gateway_api_channel == "experimental"
    [http] = report.profiles
    assert http["name"] == "MESH-HTTP" and http["core_result"] == "success"
    assert "HTTPRouteRequestMirror" in http["supported_features"]
    status = api.get(response.json()["url"]).json()
    assert status["kind"] == "conformance" and status["status"] == "accepted"
    assert status["results"] == []


def test_the_same_report_twice_is_one_submission(api: Any) -> None:
    first = post(api, read(ISTIO_1_24))
    again = post(api, read(ISTIO_1_24))

    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert ConformanceReport.objects.count() == 1


def test_a_report_that_names_no_release_is_rejected_with_every_problem(api: Any) -> None:
    response = post(api, read(BUOYANT))

    assert response.status_code == 202  # judged in processing, like any submission
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.status == "rejected"
    assert {e["path"] for e in submission.errors} == {
        "implementation.project",
        "implementation.version",
    }
    assert not ConformanceReport.objects.exists()


def test_a_form_says_which_mesh_and_release_a_distribution_is(api: Any) -> None:
    body, content_type = multipart_form(
        {"mesh_type": "linkerd", "mesh_version": "2.18"}, {"report": [("r.yaml", read(BUOYANT))]}
    )

    response = post(api, body, content_type)

    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.status == "accepted", submission.errors
    assert bytes(submission.raw) == body  # the form itself, fields included
    report = ConformanceReport.objects.get()
    assert (report.mesh_type, report.mesh_version) == ("linkerd", "2.18")


def test_the_smi_export_is_refused_at_the_door_and_kept(api: Any) -> None:
    body = (REAL / "meshery.io" / "smi.json").read_bytes()

    response = post(api, body, "application/json")

    assert response.status_code == 415
    assert response.json()["errors"][0]["rule"] == "smi-conformance"
    submission = Submission.objects.get(pk=response.json()["submission"]["id"])
    assert submission.status == "rejected" and bytes(submission.raw) == body


def test_a_token_is_required(db: Any) -> None:
    response = Client().post(
        "/api/v1/conformance", data=read(ISTIO_1_24), content_type="application/yaml"
    )

    assert response.status_code == 401
    assert not Submission.objects.exists()


def test_reprocessing_rebuilds_the_report_from_the_stored_bytes(api: Any) -> None:
    post(api, read(ISTIO_1_24))
    first = ConformanceReport.objects.get()

    call_command("reprocess", stdout=io.StringIO())

    again = ConformanceReport.objects.get()
    assert again.pk != first.pk and again.profiles == first.profiles


def test_the_command_imports_reports_and_says_what_it_made_of_each(
    org: Organization, tmp_path: Path
) -> None:
    files = [REAL / "gateway-api/conformance/reports" / n for n in (ISTIO_1_24, BUOYANT)]
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 of 2 reports rejected"):
        call_command("import_conformance", *files, organization="acme", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].endswith("accepted istio 1.24: MESH-HTTP passed (18 extended features)")
    assert "rejected" in lines[1] and "implementation.project" in lines[1]

    out = io.StringIO()
    call_command("import_conformance", files[1], organization="acme", mesh_type="linkerd",
                 mesh_version="2.18", stdout=out)  # fmt: skip
    assert "accepted linkerd 2.18: MESH-GRPC passed" in out.getvalue()
    assert ConformanceReport.objects.count() == 2


def test_the_command_names_an_unknown_organization(db: Any, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no organization 'nope'"):
        call_command("import_conformance", tmp_path / "x.yaml", organization="nope")
