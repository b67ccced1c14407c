"""Public studies through the real pipeline: does MeshMark order what they measured the way
the overhead does, and does the index report what their authors published?
(docs/meshmark.md, section 11; the tables there come from bench/bench_studies.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from bench.studies import StudyBundle, istio_bundles, mesh_bench_bundles
from ingest.models import Result, Score
from scoring import FORMULA_VERSION

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

Capture = Callable[..., Any]


def submit_all(api: Client, capture: Capture, studies: list[StudyBundle]) -> dict[str, Result]:
    """Every bundle through POST /api/v1/submissions; the mesh result of each, by label."""
    out = {}
    for study in studies:
        with capture(execute=True):
            response = api.post(
                "/api/v1/submissions",
                data=json.dumps(study.bundle.to_dict()),
                content_type="application/json",
            )
        assert response.status_code == 202, response.content
        mesh = Result.objects.get(submission_id=response.json()["id"], role="mesh")
        assert mesh.submission.status == "accepted", mesh.submission.errors
        out[f"{study.setting} / {study.variant}"] = mesh
    return out


def score_of(result: Result) -> float | None:
    return Score.objects.get(result=result, formula_version=FORMULA_VERSION).score


def test_istio_1_2_more_sidecars_score_lower_at_every_connection_count(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    meshes = submit_all(api, django_capture_on_commit_callbacks, istio_bundles())
    assert len(meshes) == 28  # 7 connection counts x 2 modes x with and without Mixer
    for connections in (1, 2, 4, 8, 16, 32, 64):
        for mixer in ("Mixer", "no Mixer"):
            both = score_of(meshes[f"{connections} connections / both sidecars, {mixer}"])
            server = score_of(meshes[f"{connections} connections / server sidecar, {mixer}"])
            assert both is not None and server is not None
            assert both < server, (connections, mixer, both, server)
            # Mixer's telemetry and policy cost more than no Mixer, sidecars for sidecars.
        with_mixer = score_of(meshes[f"{connections} connections / both sidecars, Mixer"])
        without = score_of(meshes[f"{connections} connections / both sidecars, no Mixer"])
        assert with_mixer is not None and without is not None and with_mixer < without


def test_istio_1_2_adds_about_8_ms_at_p90_with_16_connections_as_istio_published(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    sixteen = [s for s in istio_bundles() if s.setting == "16 connections"]
    meshes = submit_all(api, django_capture_on_commit_callbacks, sixteen)
    mesh = meshes["16 connections / both sidecars, Mixer"]
    assert mesh.profile_id == "http-1k" and mesh.ranked, mesh.admission
    detail = Client().get(f"/api/v1/results/{mesh.pk}").json()
    # Istio 1.1/1.2's docs: "adds 8ms to the 90th percentile"; compiled-results.json holds
    # p90 8,764 us with both sidecars and 781 us without (7.98 ms).
    assert detail["added_latency_ms"]["p90"] == pytest.approx(7.98, abs=0.05)
    # Without Mixer, the pair is another build's base an hour earlier: not a pair.
    other = meshes["16 connections / both sidecars, no Mixer"]
    assert not other.ranked and {a["rule"] for a in other.admission} == {"pair-start"}


def test_mesh_bench_runs_are_scored_but_their_pairs_were_made_hours_apart(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    meshes = submit_all(api, django_capture_on_commit_callbacks, mesh_bench_bundles())
    assert len(meshes) == 16  # four meshes at four rates
    for label, mesh in meshes.items():
        assert not mesh.ranked and "pair-start" in {a["rule"] for a in mesh.admission}, label
        if label.startswith("1 qps"):
            # 900 requests in 15 minutes: too few beyond p99 (5,000 needed) to score.
            assert score_of(mesh) is None, label
        else:
            assert score_of(mesh) is not None, label
    # Cilium (no sidecar) above the sidecar meshes at every scored rate; Traefik Mesh's
    # node proxy last; Linkerd above Istio (less at the median, half the CPU), although
    # Istio adds less at p99 at 100 and 500 qps (docs/meshmark.md, section 11).
    for rate in (100, 500, 1000):
        scores = {
            mesh: score_of(meshes[f"{rate} qps / {mesh}"])
            for mesh in ("cilium", "linkerd", "istio", "traefik_mesh")
        }
        assert list(scores) == sorted(scores, key=lambda m: -(scores[m] or 0)), (rate, scores)
