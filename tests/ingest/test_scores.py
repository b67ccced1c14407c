"""Scores are stored when a submission is accepted, re-scored by version, and previewed."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from ingest import scores, submissions
from ingest.models import Organization, Result, Score, Submission
from scoring import FORMULA_VERSION, score_pair
from scoring.normalize import figures_pair
from smp import document
from tests.factories import make_bundle
from tests.pipeline import process_bundle

pytestmark = pytest.mark.django_db


def _bundle_with_app_and_calibration() -> dict[str, Any]:
    doc = make_bundle()
    doc["environment"]["calibration"] = {"probe": "meshmark-cpu/1", "score": 1250.0}
    doc["runs"][1]["resources"] = {
        "workloads": [{"name": "app", "count": 2, "cpu_mcores": 900.0, "mem_mb": 300.0}]
    }
    doc["runs"][1]["error_count"] = 30
    # The tool separated its successful requests (fortio does): MeshMark 2 scores those.
    doc["runs"][1]["latencies_ok_ms"] = {"p50": 1.7, "p90": 2.7, "p99": 5.6, "p999": 8.3}
    return doc


def test_accepting_a_submission_stores_its_mesh_runs_score(org: Organization) -> None:
    doc = _bundle_with_app_and_calibration()
    submission = process_bundle(org, doc)
    mesh = submission.results.get(role="mesh")
    (score,) = Score.objects.filter(result=mesh)
    assert score.formula_version == FORMULA_VERSION
    assert 0 < score.score < 100
    assert set(score.classes) == {"latency", "throughput", "errors", "cpu", "memory"}
    assert not Score.objects.filter(result__role="baseline").exists()
    # The database path and the model path are one formula.
    bundle = document.bundle_from_dict(doc)
    expected = score_pair(
        bundle.runs[0],
        bundle.runs[1],
        mesh_config=bundle.mesh_config,
        environment=bundle.environment,
        error_budget=0.01,  # http-1k's
    )
    assert score.score == pytest.approx(expected.score, abs=1e-9)
    assert score.mues == pytest.approx(expected.mues)
    assert score.mue_mask == expected.mue_mask
    figures = figures_pair(
        bundle.runs[0],
        bundle.runs[1],
        mesh_config=bundle.mesh_config,
        environment=bundle.environment,
    )
    assert score.normalized and score.calibration_factor == pytest.approx(1.25)
    assert score.cpu_mcores_per_1k_rps == pytest.approx(figures.cpu_per_1k_rps)
    assert score.mem_mb_per_proxy == pytest.approx(figures.mem_per_proxy_mb)
    assert score.added_p99_ms == pytest.approx(figures.added_p99_ms)


def test_an_unranked_mesh_run_gets_no_score(org: Organization) -> None:
    doc = make_bundle()
    doc["runs"] = [doc["runs"][1]]
    submission = process_bundle(org, doc)
    assert submission.results.get().ranked is False
    assert Score.objects.count() == 0


def test_the_result_api_shows_the_score_and_breakdown(org: Organization) -> None:
    submission = process_bundle(org, _bundle_with_app_and_calibration())
    mesh = submission.results.get(role="mesh")
    body = Client().get(f"/api/v1/results/{mesh.pk}").json()
    meshmark = body["meshmark"]
    assert meshmark["version"] == FORMULA_VERSION
    assert meshmark["score"] == pytest.approx(Score.objects.get().score)
    assert meshmark["figures"]["normalized"] is True
    assert set(meshmark["classes"]) == {"latency", "throughput", "errors", "cpu", "memory"}
    baseline = submission.results.get(role="baseline")
    assert Client().get(f"/api/v1/results/{baseline.pk}").json()["meshmark"] is None


def test_listing_results_with_scores_costs_a_fixed_number_of_queries(
    org: Organization, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    for i in range(4):
        process_bundle(org, make_bundle(labels={"n": str(i)}))
    # Uncached: the listing's state (the cache key), the count, the page with its scores.
    with django_assert_max_num_queries(4):
        body = Client().get("/api/v1/results", {"role": "mesh"}).json()
    assert body["count"] == 4
    assert all(r["meshmark"]["score"] is not None for r in body["results"])
    # Again, while nothing changed: the state alone, and the same answer from the cache.
    with django_assert_max_num_queries(1):
        again = Client().get("/api/v1/results", {"role": "mesh"}).json()
    assert again == body


def test_the_preview_scores_a_bundle_without_storing_anything(org: Organization) -> None:
    doc = _bundle_with_app_and_calibration()
    response = Client().post("/api/v1/score", data=json.dumps(doc), content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["formula_version"] == FORMULA_VERSION
    (run,) = body["runs"]
    assert run["run"] == 1
    assert Submission.objects.count() == 0 and Score.objects.count() == 0
    stored = Score.objects.get(result__submission=process_bundle(org, doc))
    assert run["meshmark"]["score"] == pytest.approx(stored.score)
    assert run["figures"]["cpu_mcores_per_1k_rps"] == pytest.approx(stored.cpu_mcores_per_1k_rps)


def test_the_preview_lists_every_problem_of_a_bad_bundle(db: Any) -> None:
    doc = make_bundle()
    doc["runs"][1]["latencies_ms"]["p90"] = 99.0
    response = Client().post("/api/v1/score", data=json.dumps(doc), content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert any(e["rule"] == "percentiles-ordered" for e in response.json()["errors"])


def test_a_new_formula_version_rescores_everything_and_keeps_old_scores(
    org: Organization,
) -> None:
    for i in range(5):
        process_bundle(org, make_bundle(labels={"n": str(i)}))
    current = {s.result_id: s.score for s in Score.objects.all()}
    # Pretend the stored scores were made by an older formula: a new version
    # finds every result without a current score.
    Score.objects.update(formula_version="meshmark-0")
    assert len(scores.scores_missing(limit=100)) == 5
    out = io.StringIO()
    call_command("rescore", "--batch-size", "2", stdout=out)
    assert f"scored 5 results with {FORMULA_VERSION}" in out.getvalue()
    assert Score.objects.filter(formula_version="meshmark-0").count() == 5  # still readable
    fresh = {s.result_id: s.score for s in Score.objects.filter(formula_version=FORMULA_VERSION)}
    assert fresh == pytest.approx(current)
    assert scores.scores_missing(limit=100) == []


def test_rescoring_resumes_where_it_stopped_without_duplicates(org: Organization) -> None:
    for i in range(4):
        process_bundle(org, make_bundle(labels={"n": str(i)}))
    Score.objects.all().delete()
    first = scores.scores_backfill_batch(batch_size=3)  # then the worker "dies"
    assert first is not None and first[1] == 3
    assert scores.scores_backfill() == 1  # only the one left
    assert Score.objects.count() == 4
    assert scores.scores_backfill() == 0


def test_the_background_rescore_chains_batches_to_the_end(org: Organization) -> None:
    from ingest import tasks

    for i in range(3):
        process_bundle(org, make_bundle(labels={"n": str(i)}))
    Score.objects.all().delete()
    assert tasks.rescore_if_needed.delay().get() is True  # eager here: runs the chain
    assert Score.objects.count() == 3
    assert tasks.rescore_if_needed.delay().get() is False


def test_reprocessing_replaces_scores_instead_of_adding_copies(org: Organization) -> None:
    submission = process_bundle(org, make_bundle())
    submissions.submission_reprocess(submissions=[submission])
    assert Score.objects.count() == 1
    assert Result.objects.filter(role="mesh").count() == 1
