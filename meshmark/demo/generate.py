"""Turn each planned repetition into a submission: two fortio runs and their bundle.

Per submission, the baseline's latency model comes from the profile's shape on
this cluster (slower machines are slower), and the mesh run's from the
baseline plus what the mesh adds (``plan.added_latency``); both are written as
native ``fortio load -json`` output and read back with the index's own reader.

Determinism: submission ``i`` depends only on ``seed`` and ``i`` (never on the
corpus size), and the body is serialized the same way every time, so re-seeding
produces the same bytes, which the index deduplicates.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from meshmark.demo import DEFAULT_SEED, catalog
from meshmark.demo.bundle import bundle_document, endpoint_url, run_resources, smp_run
from meshmark.demo.fortio import FortioRun, LatencyModel, fortio_document, fortio_text
from meshmark.demo.plan import Campaign, added_latency, is_outlier, plan
from smp.model import PerformanceTestResult

_Z90, _Z99 = 1.2815515655446004, 2.3263478740408408  # standard normal quantiles


@dataclass(frozen=True)
class DemoSubmission:
    """One generated submission: the bundle, its exact bytes, and what was planted."""

    index: int
    campaign: Campaign
    repetition: int
    outlier: bool
    bundle: dict[str, Any]
    body: bytes

    @property
    def organization(self) -> str:
        return self.campaign.organization.slug


def generate(
    size: int, seed: int = DEFAULT_SEED, part: tuple[int, int] = (0, 1)
) -> Iterator[DemoSubmission]:
    """The first ``size`` submissions of the corpus for ``seed``.

    ``part=(k, n)`` yields only those whose index is k modulo n, so n processes
    can make one corpus between them; each submission depends only on its own
    place in the plan.
    """
    k, n = part
    for index, current, repetition in plan(size, seed):
        if index % n == k:
            yield submission(seed, index, current, repetition)


def _mesh_model(base: LatencyModel, added90: float, added99: float) -> LatencyModel:
    """The baseline's latency plus a fixed proxy cost ``d`` and a wider body ``k``, chosen so
    that the mesh adds ``added90`` at p90 and ``added99`` at p99 (from the lognormal's
    quantiles; the small slow mode moves them a little)."""
    q90 = base.median_ms * math.exp(base.sigma * _Z90)
    q99 = base.median_ms * math.exp(base.sigma * _Z99)
    widen = max((added99 - added90) / (q99 - q90), 0.0)
    shift = added90 - widen * q90
    if shift < 0:
        shift, widen = 0.0, added90 / q90
    return LatencyModel(
        base.shift_ms + shift,
        base.median_ms * (1.0 + widen),
        base.sigma,
        base.tail_weight,
        base.tail_scale,
    )


def submission(seed: int, index: int, current: Campaign, repetition: int) -> DemoSubmission:
    rng = random.Random(f"meshmark-demo:{seed}:run:{current.index}:{repetition}")
    env, shape, profile, variant = (
        current.environment,
        current.shape,
        current.profile,
        current.variant,
    )
    speed = env.speed
    start = current.start + dt.timedelta(minutes=13 * repetition, seconds=rng.randrange(60))
    # The whole round trip is CPU work on both ends (kernel network stack included), so
    # a faster machine shortens all of it and latency ratios stay machine-independent.
    base = LatencyModel(
        shape.shift_ms / speed * rng.lognormvariate(0.0, env.jitter / 2),
        shape.median_ms / speed * current.latency_bias * rng.lognormvariate(0.0, 0.04),
        shape.sigma * rng.lognormvariate(0.0, 0.03),
        shape.tail_weight,
        shape.tail_scale,
    )
    added90, added99 = added_latency(variant, shape)
    noise = rng.lognormvariate(0.0, 0.07)
    mesh_model = _mesh_model(base, added90 / speed * noise, added99 / speed * noise)
    outlier = is_outlier(index)
    slowdown = rng.uniform(*catalog.OUTLIER_LATENCY_RANGE) if outlier else 1.0
    mesh_model = mesh_model.scaled(slowdown)

    url = endpoint_url(profile)
    base_errors = 0.0 if rng.random() < 0.7 else rng.uniform(0.0, 2e-4)
    mesh_errors = base_errors + (rng.uniform(0.0, 3e-4) if rng.random() < 0.5 else 0.0)
    runs: list[PerformanceTestResult] = []
    for role, model, errors, offset in (
        ("baseline", base, base_errors, 0),
        ("mesh", mesh_model, mesh_errors * slowdown, 150 + rng.randrange(120)),
    ):
        request = FortioRun(
            url=url,
            requested_qps=float(profile.rps or 0),
            connections=profile.connections,
            duration_s=float(profile.duration_s),
            start=start + dt.timedelta(seconds=offset, microseconds=rng.randrange(10**6)),
            labels=f"{profile.id} {role} {current.organization.slug}",
            grpc=profile.protocol == "grpc",
            error_rate=errors,
            payload_bytes=profile.payload_bytes,
        )
        native = fortio_document(request, model, rng)
        text = fortio_text(native)
        runs.append(
            smp_run(text, role, profile, f"demo-{seed}-c{current.index}-r{repetition + 1}", native)
        )
    for run in runs:
        run.resources = run_resources(run, current, rng)
    bundle = bundle_document(
        seed, current, repetition, [run.to_dict() for run in runs], rng, slowdown
    )
    body = json.dumps(bundle, separators=(",", ":")).encode()
    return DemoSubmission(index, current, repetition, outlier, bundle, body)
