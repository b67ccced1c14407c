"""Submitting bundles through the real pipeline in database tests, and a shared corpus."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

from ingest import processing as ingest_processing
from ingest.models import Organization, Submission
from tests.factories import make_bundle, make_run

ISTIO = {"mesh_type": "istio", "mesh_version": "1.24.1", "mtls_enabled": True}
LINKERD = {"mesh_type": "linkerd", "mesh_version": "2.16.0", "mtls_enabled": True}
CILIUM = {"mesh_type": "cilium", "mesh_version": "1.16.0", "mtls_enabled": False}


def process_bundle(org: Organization, doc: dict[str, Any]) -> Submission:
    """Store ``doc`` as a submission of ``org``, run the pipeline inline, expect acceptance."""
    body = json.dumps(doc).encode()
    submission = Submission.objects.create(
        organization=org, raw=body, content_type="application/json", size=len(body),
        sha256="0" * 64, content_digest=str(hash(body)),
    )  # fmt: skip
    ingest_processing.submission_process(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == "accepted", submission.errors
    return submission


def histogram(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Buckets that agree with the run's percentiles (p50, p90 and p99 fall on bucket edges)."""
    lat, total = run["latencies_ms"], run["request_count"]
    edges = [lat["min"], lat["p50"], lat["p90"], lat["p99"], lat["p999"], lat["max"]]
    shares = [0.5, 0.4, 0.09, 0.009, 0.001]
    shapes = [[1, 2, 4, 7], [6, 3, 2, 1], [3, 2, 1], [2, 1], [1]]
    counts = [round(total * s) for s in shares]
    counts[-1] = total - sum(counts[:-1])
    buckets = []
    for (start, end), count, shape in zip(pairwise(edges), counts, shapes, strict=True):
        width = (end - start) / len(shape)
        parts = [count * w // sum(shape) for w in shape]
        parts[-1] += count - sum(parts)
        for i, part in enumerate(parts):
            buckets.append({"start_ms": start + i * width, "end_ms": start + (i + 1) * width,
                            "count": part})  # fmt: skip
    return buckets


def accept(org: Organization, *, config: dict[str, Any], p50: float, p99: float, n: int,
           histograms: bool = False, **overrides: Any) -> Submission:  # fmt: skip
    """A baseline and a mesh run of ``config`` with these mesh latencies, accepted.

    ``histograms`` adds buckets that agree with each run's percentiles (for pages
    that draw them).
    """
    doc = make_bundle(labels={"n": str(n), "p": str(p50)}, **overrides)
    doc["mesh_config"].update(config)
    doc["runs"][1] = make_run("mesh", p50=p50, p99=p99)
    doc["runs"][1]["resources"] = {"workloads": [{"name": "app", "cpu_mcores": 1500.0,
                                                 "mem_mb": 400.0}]}  # fmt: skip
    if histograms:
        for run in doc["runs"]:
            run["histogram"] = histogram(run)
    return process_bundle(org, doc)


def seed_corpus(
    org: Organization, other_org: Organization, runs: int = 6, *, histograms: bool = False
) -> None:
    """Linkerd clearly best, Istio and Cilium close together (a tie), repeated runs."""
    for i in range(runs):
        accept(org if i % 2 else other_org, config=LINKERD, p50=1.05 + 0.01 * i, p99=3.2, n=i,
               histograms=histograms)  # fmt: skip
        accept(org, config=ISTIO, p50=1.6 + 0.02 * i, p99=5.0 + 0.05 * i, n=i,
               histograms=histograms)  # fmt: skip
        accept(org, config=CILIUM, p50=1.62 + 0.02 * i, p99=5.05 + 0.05 * i, n=i,
               histograms=histograms)  # fmt: skip
