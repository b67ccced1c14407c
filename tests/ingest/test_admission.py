"""Admission through the real pipeline: what real outputs other projects published get.

The two cases that motivated the rules (docs/meshmark.md, section 9): Meshery's
sample with a mesh run whose every request failed, and a pair of unrelated
fortio runs filed under http-1k. Both are accepted and shown, neither is ranked,
and every reason is named.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ingest.models import LeaderboardEntry, Result, Score, Submission
from scoring.engine import MESHMARK_1, score_pair
from smp.model import Bundle, ServiceMeshConfig
from smp.readers import read

from ..factories import multipart_form

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]
MESHERY = "meshery/meshery-results-fortio.json"


def meshery_failed_run_bundle(samples: Path) -> Bundle:
    """Meshery's sample as the issue tried it: its first run as the baseline, its run
    whose 300 of 300 requests failed (fast: p50 1.43 ms) as the mesh run, under http-1k."""
    _, runs = read((samples / MESHERY).read_bytes())
    baseline, failed = runs[0], runs[1]
    assert (failed.request_count, failed.error_count) == (300, 300)
    baseline.role, failed.role = "baseline", "mesh"
    return Bundle(
        profile="http-1k",
        mesh_config=ServiceMeshConfig(mesh_type="istio", mesh_version="1.13.2"),
        runs=[baseline, failed],
    )


def rules_of(problems: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(p["path"], p["rule"]) for p in problems}


def test_a_mesh_run_that_failed_every_request_is_kept_but_never_ranked(
    api: Client, samples: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    bundle = meshery_failed_run_bundle(samples)
    # Under meshmark-1 this pair scored 83.3: fast failures bought a good latency class.
    old = score_pair(bundle.runs[0], bundle.runs[1], formula=MESHMARK_1)
    assert old.score == pytest.approx(83.3, abs=0.05)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/submissions",
            data=json.dumps(bundle.to_dict()),
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    status = api.get(f"/api/v1/submissions/{response.json()['id']}").json()
    assert status["status"] == "accepted"
    mesh = Result.objects.get(submission_id=status["id"], role="mesh")
    assert mesh.ranked is False
    assert ("runs[1].error_count", "error-budget") in rules_of(mesh.admission)
    assert ("runs[1].error_count", "error-budget") in rules_of(status["warnings"])
    assert "failed 100.00% of its requests" in mesh.unranked_reason or any(
        "failed 100.00% of its requests" in p["message"] for p in mesh.admission
    )
    # No successful request: meshmark-2 has no latency to score, and no board sees it.
    (score,) = Score.objects.filter(result=mesh)
    assert score.score is None
    assert not LeaderboardEntry.objects.exists()
    detail = Client().get(f"/api/v1/results/{mesh.pk}").json()
    assert ("runs[1].error_count", "error-budget") in rules_of(detail["admission"])
    page = Client().get(f"/results/{mesh.pk}").content.decode()
    assert "Not ranked" in page and "[error-budget]" in page


def single_run_fortio(samples: Path) -> bytes:
    """The first run of Meshery's sample as the plain fortio JSON it wraps (1 connection,
    no requested rate, 30 s against another host): a variant made here, not copied."""
    records = json.loads((samples / MESHERY).read_bytes())
    return json.dumps(records[0]["runner_results"][0]).encode()


def test_an_unrelated_pair_of_native_outputs_is_not_ranked_and_every_mismatch_is_named(
    api: Client, samples: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    baseline = (samples / "fortio" / "fortio_readme_http_rest_result.json").read_bytes()
    body, content_type = multipart_form(
        {"profile": "http-1k", "mesh_type": "linkerd", "mesh_version": "2.16.0"},
        {"baseline": [("b.json", baseline)], "mesh": [("m.json", single_run_fortio(samples))]},
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/submissions", data=body, content_type=content_type)
    assert response.status_code == 202, response.content
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.status == "accepted", submission.errors
    mesh = submission.results.get(role="mesh")
    assert mesh.ranked is False
    # 4 requests in 0.1 s at 40 qps on 2 connections, against 78 in 30 s on 1, unpaced,
    # measured by two fortio builds four years apart.
    assert rules_of(mesh.admission) >= {
        ("runs[0].requested_qps", "profile-rate"),
        ("runs[0].connections", "profile-connections"),
        ("runs[0].duration_s", "profile-duration"),
        ("runs[1].requested_qps", "profile-rate"),
        ("runs[1].connections", "profile-connections"),
        ("runs[1].duration_s", "profile-duration"),
        ("runs[1].connections", "pair-connections"),
        ("runs[1].load_generator", "pair-load-generator"),
        ("runs[1].start_time", "pair-start"),
    }
    assert not LeaderboardEntry.objects.filter(result=mesh).exists()


def test_a_conforming_pair_is_ranked_and_enters_its_board(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    from tests.factories import make_bundle

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/submissions", data=make_bundle(), content_type="application/json"
        )
    mesh = Result.objects.get(submission_id=response.json()["id"], role="mesh")
    assert mesh.ranked is True and mesh.admission == []
    assert LeaderboardEntry.objects.get(result=mesh).listed is True


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"connections": 8}, "profile-connections"),
        ({"requested_qps": 500.0}, "profile-rate"),
        (
            {
                "duration_s": 30.0,
                "end_time": "2026-11-01T10:00:30Z",
                "request_count": 29700,
                "status_codes": {"200": 29700},
            },
            "profile-duration",
        ),
        ({"protocol": "grpc"}, "profile-protocol"),
        ({"warmup_s": 1.0}, "profile-warmup"),
        ({"payload_bytes": 10240}, "profile-payload"),
        ({"labels": {"profile_overrides": "--rate 800"}}, "custom-run"),
        ({"error_count": 1200}, "error-budget"),
    ],
)
def test_each_rule_unranks_a_mesh_run_that_breaks_it(
    api: Client,
    django_capture_on_commit_callbacks: Capture,
    change: dict[str, Any],
    rule: str,
) -> None:
    from tests.factories import make_bundle

    doc = make_bundle()
    doc["runs"][1].update(change)
    if rule == "error-budget":  # fortio separated its successful requests
        doc["runs"][1]["latencies_ok_ms"] = doc["runs"][1]["latencies_ms"]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/submissions", data=doc, content_type="application/json")
    mesh = Result.objects.get(submission_id=response.json()["id"], role="mesh")
    assert mesh.ranked is False
    assert rule in {p["rule"] for p in mesh.admission}, mesh.admission
    assert not LeaderboardEntry.objects.filter(result=mesh, listed=True).exists()


def test_a_baseline_that_could_not_hold_the_rate_unranks_its_mesh_run(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    from tests.factories import make_bundle, make_run

    doc = make_bundle()
    doc["runs"][0] = make_run("baseline", p50=1.0, p99=3.0, qps=900.0)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/submissions", data=doc, content_type="application/json")
    mesh = Result.objects.get(submission_id=response.json()["id"], role="mesh")
    assert ("runs[0].actual_qps", "baseline-held-rate") in rules_of(mesh.admission)


def test_interleaved_pairs_are_each_scored_against_the_baseline_made_just_before(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    """smp-runner --repeat 2: baseline, mesh, baseline, mesh. The second baseline is
    slower (the machine drifted); its mesh run is compared with it, not with the first."""
    from tests.factories import make_bundle, make_run

    doc = make_bundle()
    doc["runs"] = [
        make_run("baseline", p50=1.0, p99=3.0),
        make_run("mesh", p50=1.5, p99=4.0),
        make_run("baseline", p50=2.0, p99=6.0),
        make_run("mesh", p50=2.5, p99=7.0),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/submissions", data=doc, content_type="application/json")
    assert response.status_code == 202, response.json()
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.status == "accepted", submission.errors
    rows = {r.run_index: r for r in Result.objects.filter(submission=submission)}
    assert sorted(rows) == [0, 1, 2, 3]
    assert rows[1].baseline_id == rows[0].pk and rows[3].baseline_id == rows[2].pk
    assert rows[1].ranked and rows[3].ranked, (rows[1].admission, rows[3].admission)
    # Each pair added 1 ms to its own baseline's p99 (paired with the first baseline, the
    # second would have added 4 ms).
    for index in (1, 3):
        added = [s.added_p99_ms for s in Score.objects.filter(result=rows[index])]
        assert added and added == pytest.approx([1.0] * len(added)), (index, added)
    listed = LeaderboardEntry.objects.filter(result__submission=submission, listed=True)
    assert listed.count() == 2
