"""A test configuration as a profile, in the index: accepted, scored, ranked on its own board
and never mixed with the standard profiles (issue 14)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ingest.models import LeaderboardEntry, Profile, Result
from smp.custom_profiles import custom_profile
from smp.model import Bundle, PerformanceTestConfig
from smp.model import Client as SmpClient
from tests.factories import make_bundle

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def custom_bundle() -> tuple[dict[str, Any], str]:
    """make_bundle's runs, made at 500 rps over 8 connections: a test no standard profile is."""
    config = PerformanceTestConfig(
        name="half load",
        duration="60s",
        clients=[SmpClient(load_generator="fortio", protocol="http", connections=8, rps=500)],
    )
    custom = custom_profile(config)
    doc = make_bundle()
    doc["profile"] = custom.id
    doc["config"] = Bundle(config=custom.config).to_dict()["config"]
    for run in doc["runs"]:
        run.update(profile_id=custom.id, requested_qps=500.0, connections=8)
        run.update(actual_qps=495.0, request_count=29700, status_codes={"200": 29700})
    return doc, custom.id


def test_a_bundle_of_a_custom_profile_gets_its_own_board(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc, profile_id = custom_bundle()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/submissions", data=doc, content_type="application/json")
    assert response.status_code == 202, response.content
    mesh = Result.objects.get(role="mesh")
    assert mesh.submission.status == "accepted", mesh.submission.errors
    profile = Profile.objects.get(pk=profile_id)
    assert profile.custom and profile.rps == 500 and profile.connections == 8
    assert profile.config["clients"][0]["rps"] == 500
    assert mesh.ranked, mesh.admission  # on its own board: the runs are its profile's
    assert LeaderboardEntry.objects.get(result=mesh).profile_id == profile_id
    board = Client().get(f"/api/v1/leaderboards/{profile_id}").json()
    rows = board["rows"] + board["partial_rows"]  # no application figures: partial
    assert [row["mesh_type"] for row in rows] == ["istio"]
    # Never among the standard profiles, nor on their boards.
    listed = [p["id"] for p in Client().get("/api/v1/profiles").json()]
    assert profile_id not in listed and "http-1k" in listed
    standard = Client().get("/api/v1/leaderboards/http-1k").json()
    assert standard["rows"] == standard["partial_rows"] == []


def test_a_custom_id_that_its_config_does_not_define_is_refused(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc, _ = custom_bundle()
    doc["profile"] = "custom-000000000000"
    for run in doc["runs"]:
        run["profile_id"] = "custom-000000000000"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/submissions", data=doc, content_type="application/json")
    status = api.get(f"/api/v1/submissions/{response.json()['id']}").json()
    assert status["status"] == "rejected"
    assert {e["rule"] for e in status["errors"]} == {"custom-profile"}
    assert not Profile.objects.filter(custom=True).exists()
