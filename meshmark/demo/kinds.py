"""Demo runs of the capacity, churn and real-world profiles (issue 17's boards and charts).

Each kind is made for the ``http-1k`` campaign of each mesh family (campaign ``i``
for the i-th mesh: same organization, cluster, version and mTLS setting), so the
mesh page can put a real-world row beside its fixed-profile row (the capacity
runs all share one cluster, so that one board group holds them). The runs are
written as fortio output by the same writer as the rest of the corpus and read
back with the index's reader; what each kind adds is below, with its source.

* **capacity** (``http-capacity-p99-10ms``): the mesh keeps the share of the
  baseline's capacity that the 2022 mesh-bench study measured as maximum
  throughput (fortio ``-qps 0``, 32 connections, 15 minutes, GKE;
  ../shared/real-data/mesh-bench/results/01_http_max_throughput): baseline 21,653
  requests/s, Cilium 18,009 (83%), Linkerd 9,757 (45%), Istio 4,325 (20%).
  ASSUMPTIONS: that a closed-loop maximum's ratio carries over to a p99 objective,
  the baseline capacity itself (about 6,000 requests/s on the reference machine
  at 16 connections) and the noise; meshes the study did not measure (Kuma,
  Consul) get none. The trials are a search as runner.capacity makes it.
* **churn** (``http-churn-100``): ASSUMPTION, no published figure: a new
  connection per request costs each hop CHURN_FACTOR times its keep-alive added
  latency with mTLS (a full TLS 1.3 handshake between the proxies), and half of
  that without; the local runs of docs/runner.md measured the same direction.
* **real-world** (``http-1k-real-world``): ASSUMPTION, no published figure:
  bursts widen the tails (REAL_WORLD_P99 times the mesh's keep-alive added p99,
  REAL_WORLD_P90 at p90), each run with its own recorded seed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from collections.abc import Iterator

from meshmark.demo import catalog, fleet
from meshmark.demo.bundle import bundle_document, endpoint_url, run_resources, smp_run
from meshmark.demo.catalog import ProfileShape
from meshmark.demo.fortio import FortioRun, LatencyModel, fortio_document, fortio_text
from meshmark.demo.generate import DemoSubmission, _mesh_model
from meshmark.demo.plan import Campaign, MeshVariant, added_latency, campaign, standard_profile
from smp.model import CapacitySearch, CapacityTrial

PUBLISHED_KEPT = {"istio": 4325 / 21653, "linkerd": 9757 / 21653, "cilium": 18009 / 21653}
"""mesh-bench 2022, 01_http_max_throughput: each mesh's ActualQPS over the baseline's."""
BASELINE_CAPACITY_RPS = 6000.0
CHURN_FACTOR = 2.2
REAL_WORLD_P90, REAL_WORLD_P99 = 1.15, 1.45
REPETITIONS = 3
KIND_INDEX = 1_000_000
"""Submission indexes of the kinds start here (never a planted outlier: see below)."""

REAL_WORLD = ProfileShape(
    "http-1k-real-world", 0.22, 0.45, 0.62, 0.004, 4.0, 1, REAL_WORLD_P90, REAL_WORLD_P99, 1.05
)
CHURN = ProfileShape(
    "http-churn-100", 0.30, 0.40, 0.45, 0.001, 3.5, 1, CHURN_FACTOR, CHURN_FACTOR, 1.5
)
CAPACITY = ProfileShape("http-capacity-p99-10ms", 0.22, 0.45, 0.55, 0.002, 4.0, 1, 1, 1, 1)


def kind_submissions(seed: int) -> Iterator[DemoSubmission]:
    """Every demo run of the new kinds, in a fixed order (the same bytes for a seed)."""
    number = 0
    for i, mesh in enumerate(catalog.MESHES):
        base = campaign(seed, i)
        for repetition in range(REPETITIONS):
            yield _fixed(seed, base, REAL_WORLD, repetition, number, real_world=True)
            number += 1
        for mtls in mesh.mtls_options:
            churn = dataclasses.replace(base, variant=MeshVariant(mesh, base.variant.version, mtls))
            for repetition in range(REPETITIONS):
                yield _fixed(seed, churn, CHURN, repetition, number, real_world=False)
                number += 1
        if mesh.mesh_type in PUBLISHED_KEPT:
            for repetition in range(REPETITIONS):
                yield _capacity(seed, base, repetition, number)
                number += 1


def _index(number: int) -> int:
    index = KIND_INDEX + number
    # Skip the planted-outlier slots of plan.is_outlier: these runs carry no planted noise.
    return index + 1 if index % catalog.OUTLIER_EVERY == catalog.OUTLIER_OFFSET else index


def _latency(current: Campaign, rng: random.Random) -> LatencyModel:
    env, shape = current.environment, current.shape
    speed = env.speed
    return LatencyModel(
        shape.shift_ms / speed * rng.lognormvariate(0.0, env.jitter / 2),
        shape.median_ms / speed * current.latency_bias * rng.lognormvariate(0.0, 0.04),
        shape.sigma * rng.lognormvariate(0.0, 0.03),
        shape.tail_weight,
        shape.tail_scale,
    )


def _fixed(
    seed: int, base: Campaign, shape: ProfileShape, repetition: int, number: int, real_world: bool
) -> DemoSubmission:
    """A real-world or churn submission of ``base``'s configuration."""
    current = dataclasses.replace(
        base, profile=standard_profile(shape), shape=shape, index=KIND_INDEX + number
    )
    rng = random.Random(f"meshmark-demo:{seed}:kind:{number}")
    profile, speed = current.profile, current.environment.speed
    start = current.start + dt.timedelta(days=1, minutes=13 * repetition)
    baseline = _latency(current, rng)
    added90, added99 = added_latency(current.variant, shape)
    if not real_world and not current.variant.mtls:
        added90, added99 = added90 / 2, added99 / 2  # no TLS handshake: TCP's only
    noise = rng.lognormvariate(0.0, 0.07)
    mesh = _mesh_model(baseline, added90 / speed * noise, added99 / speed * noise)
    labels = (
        {"realworld.seed": str(rng.randrange(2**32)), "realworld.model": "rw-1"}
        if real_world
        else {"loadgen.keepalive": "false"}
    )
    runs = []
    for role, model, offset in (("baseline", baseline, 0), ("mesh", mesh, 150)):
        request = FortioRun(
            url=endpoint_url(profile), requested_qps=float(profile.rps or 0),
            connections=profile.connections, duration_s=float(profile.duration_s),
            start=start + dt.timedelta(seconds=offset), labels=f"{profile.id} {role}",
            grpc=False, error_rate=0.0, payload_bytes=profile.payload_bytes,
        )  # fmt: skip
        native = fortio_document(request, model, rng)
        text = fortio_text(native)
        run = smp_run(text, role, profile, f"demo-{seed}-k{number}", native)
        run.labels.update(labels)
        run.resources = run_resources(run, current, rng)
        runs.append(run.to_dict())
    return _submission(seed, current, repetition, number, runs, rng, labels)


def _capacity(seed: int, base: Campaign, repetition: int, number: int) -> DemoSubmission:
    # One cluster for every mesh (one with Cilium as its CNI, which Cilium needs), so that
    # the capacity board's default group holds them all.
    environment = next(e for e in fleet.ENVIRONMENTS if e.cni == "cilium")
    organization = next(o for o in fleet.ORGANIZATIONS if environment.key in o.environments)
    current = dataclasses.replace(
        base,
        profile=standard_profile(CAPACITY),
        shape=CAPACITY,
        index=KIND_INDEX + number,
        environment=environment,
        organization=organization,
    )
    rng = random.Random(f"meshmark-demo:{seed}:kind:{number}")
    profile = current.profile
    search = profile.search or {}
    speed = current.environment.speed
    base_rps = BASELINE_CAPACITY_RPS * speed * rng.lognormvariate(0.0, 0.03)
    kept = PUBLISHED_KEPT[current.variant.mesh.mesh_type] * rng.lognormvariate(0.0, 0.03)
    start = current.start + dt.timedelta(days=2, minutes=17 * repetition)
    runs = []
    for role, limit, offset in (("baseline", base_rps, 0), ("mesh", base_rps * kept, 600)):
        trials = _search(limit, float(search["start_rps"]), float(search["tolerance"]), rng)
        rate = max(t.requested_qps for t in trials if t.passed)
        request = FortioRun(
            url=endpoint_url(profile), requested_qps=rate, connections=profile.connections,
            duration_s=float(profile.duration_s), start=start + dt.timedelta(seconds=offset),
            labels=f"{profile.id} {role}", grpc=False, error_rate=0.0,
            payload_bytes=profile.payload_bytes,
        )  # fmt: skip
        model = _latency(current, rng)
        native = fortio_document(request, model, rng)
        text = fortio_text(native)
        run = smp_run(text, role, profile, f"demo-{seed}-k{number}", native)
        # The trial at the capacity is this run: its p99 is the run's own.
        trials = [
            dataclasses.replace(t, p99_ms=run.latencies_ms.p99) if t.requested_qps == rate else t
            for t in trials
        ]
        run.capacity = CapacitySearch(
            objective_p99_ms=float(profile.objective_p99_ms or 0),
            rps=rate,
            trials=trials,
            converged=True,
            tolerance=float(search["tolerance"]),
        )
        run.resources = run_resources(run, current, rng)
        runs.append(run.to_dict())
    return _submission(seed, current, repetition, number, runs, rng, {})


def _search(
    limit: float, start: float, tolerance: float, rng: random.Random
) -> list[CapacityTrial]:
    """The trials runner.capacity would make against a system that meets the objective up
    to ``limit`` requests/s: bracketing by doubling, then bisection."""
    trials: list[CapacityTrial] = []
    lo, hi, rate = 0.0, 0.0, start
    while True:
        passed = rate <= limit
        p99 = (2.0 + 6.0 * (rate / limit) ** 4) if passed else 10.0 * (1 + 4 * (rate / limit - 1))
        p99 = max(p99, 10.5) if not passed else p99
        delivered = rate * (0.998 if passed else min(1.0, limit / rate * 1.02))
        trials.append(
            CapacityTrial(
                round(rate, 1),
                round(delivered, 1),
                round(p99 * rng.uniform(0.95, 1.05), 3),
                0.0,
                passed,
                10.0,
            )
        )
        if passed:
            lo = rate
        else:
            hi = rate
        if hi and lo and hi <= lo * (1 + tolerance):
            return trials
        rate = rate * 2 if not hi else round((lo + hi) / 2, 1)


def _submission(
    seed: int,
    current: Campaign,
    repetition: int,
    number: int,
    runs: list[dict[str, object]],
    rng: random.Random,
    labels: dict[str, str],
) -> DemoSubmission:
    bundle = bundle_document(seed, current, repetition, runs, rng, 1.0)
    bundle["labels"].update(labels)
    if current.profile.rps is None:  # a capacity search: no fixed rate in the config
        bundle["config"]["clients"][0].pop("rps", None)
    body = json.dumps(bundle, separators=(",", ":")).encode()
    return DemoSubmission(_index(number), current, repetition, False, bundle, body)
