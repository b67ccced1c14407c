"""smp-runner's certification outcome, from the bundle's labels to the result and the board."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ingest import leaderboards
from ingest.models import LeaderboardEntry, Organization, Result
from tests import pipeline
from tests.factories import make_bundle, make_run

pytestmark = pytest.mark.django_db

CHECKS = {
    "certify.cores": "pass: 8 cores for 1000 rps (generator, application and proxies need 2)",
    "certify.generator": "warn: the generator held 1012.0 of 1000 rps against a no-op target",
}


def submit(org: Organization, config: dict[str, Any], p50: float, labels: dict[str, str]) -> None:
    doc = make_bundle(labels={"p": str(p50), **labels})
    doc["mesh_config"].update(config)
    doc["runs"][1] = make_run("mesh", p50=p50, p99=p50 * 3)
    pipeline.process_bundle(org, doc)


@pytest.fixture
def corpus(org: Organization) -> None:
    for i in range(3):  # Istio certified (one pass, two warn); Linkerd's bundles say nothing
        status = "pass" if i == 0 else "warn"
        submit(org, pipeline.ISTIO, 1.5 + i / 10, {"certify.status": status, **CHECKS})
        submit(org, pipeline.LINKERD, 1.2 + i / 10, {})
    submit(org, pipeline.ISTIO, 1.9, {"certify.status": "skipped"})


def board(**params: str) -> dict[str, Any]:
    response = Client().get("/api/v1/leaderboards/http-1k", params)
    assert response.status_code == 200, response.content
    answer: dict[str, Any] = response.json()
    # The bundles carry no resources: their scores lack classes and rank apart, as partial.
    answer["rows"] = answer["rows"] + answer["partial_rows"]
    return answer


def test_the_certified_view_keeps_only_runs_whose_environment_passed(corpus: None) -> None:
    everything = {r["mesh_type"]: r["results"] for r in board()["rows"]}
    assert everything == {"istio": 4, "linkerd": 3}

    certified = board(certified="true")
    assert {r["mesh_type"]: r["results"] for r in certified["rows"]} == {"istio": 3}
    # The same figures as the stored column says, and a rebuild keeps them.
    assert LeaderboardEntry.objects.filter(certified=True).count() == 3
    leaderboards.leaderboards_rebuild()
    assert LeaderboardEntry.objects.filter(certified=True).count() == 3
    assert board(certified="false")["rows"] == board()["rows"]


def test_a_bad_certified_value_names_the_parameter(corpus: None) -> None:
    response = Client().get("/api/v1/leaderboards/http-1k", {"certified": "maybe"})
    assert response.status_code == 400
    assert "certified" in response.content.decode()


def test_the_result_shows_each_check_and_the_api_returns_them(corpus: None) -> None:
    result = Result.objects.filter(role="mesh", certification="pass").get()
    answer = Client().get(f"/api/v1/results/{result.pk}").json()
    assert answer["certification"] == "pass"
    assert {c["name"]: c["status"] for c in answer["certification_checks"]} == {
        "cores": "pass",
        "generator": "warn",
    }
    page = Client().get(f"/results/{result.pk}").content.decode()
    assert "Environment certified (pass)" in page
    assert "the generator held 1012.0 of 1000 rps" in page

    skipped = Result.objects.filter(role="mesh", certification="skipped").get()
    assert "--skip-certify" in Client().get(f"/results/{skipped.pk}").content.decode()


@pytest.mark.parametrize("status", ["fail", "certified", ""])
def test_a_status_the_runner_never_writes_is_not_believed(org: Organization, status: str) -> None:
    submit(org, pipeline.ISTIO, 1.5, {"certify.status": status, **CHECKS})
    mesh = Result.objects.get(role="mesh")
    assert (mesh.certification, mesh.certification_checks) == ("", [])
    assert LeaderboardEntry.objects.get().certified is False
