"""The demo corpus as a stream of campaigns, and the figures each run aims at.

A *campaign* is one organization testing one mesh configuration with one
profile on one of its clusters, repeated 3 to 6 times; each repetition becomes
one submission. Campaign ``k`` cycles through the mesh families (the
fastest-moving index) and then the profiles, so even a small corpus covers
every mesh on ``http-1k`` first; versions and mTLS settings rotate with the
round, and clusters, organizations and repetitions are drawn from a generator
seeded with ``(seed, k)``. Campaign ``k`` never depends on the corpus size, so
a bigger corpus extends a smaller one.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from meshmark.demo import DEFAULT_SEED, catalog, fleet
from meshmark.demo.catalog import MeshFigures, ProfileShape
from meshmark.demo.fleet import EnvironmentSpec, OrgSpec
from smp.profiles import Profile, get_profile

BASE_TIME = dt.datetime(2024, 9, 2, 8, 0, tzinfo=dt.UTC)
SPAN_HOURS = 540 * 24
"""Campaign start times wrap around within 540 days, however big the corpus."""


@dataclass(frozen=True)
class MeshVariant:
    mesh: MeshFigures
    version: str
    mtls: bool

    @property
    def label(self) -> str:
        return f"{self.mesh.mesh_type} {self.version} mtls={'on' if self.mtls else 'off'}"


@dataclass(frozen=True)
class Campaign:
    index: int
    organization: OrgSpec
    environment: EnvironmentSpec
    profile: Profile
    shape: ProfileShape
    variant: MeshVariant
    repetitions: int
    start: dt.datetime
    latency_bias: float
    cpu_bias: float


def variants(mesh: MeshFigures) -> list[MeshVariant]:
    return [MeshVariant(mesh, v, m) for v in mesh.versions for m in mesh.mtls_options]


def campaign(seed: int, index: int) -> Campaign:
    """The ``index``-th campaign of the corpus for ``seed``."""
    rng = random.Random(f"meshmark-demo:{seed}:campaign:{index}")
    meshes, shapes = catalog.MESHES, catalog.PROFILE_SHAPES
    mesh = meshes[index % len(meshes)]
    shape_index = (index // len(meshes)) % len(shapes)
    shape = shapes[shape_index]
    rounds = index // (len(meshes) * len(shapes))
    options = variants(mesh)
    variant = options[(rounds + shape_index) % len(options)]
    eligible = [e for e in fleet.ENVIRONMENTS if mesh.requires_cni in (None, e.cni)]
    environment = rng.choice(eligible)
    organization = rng.choice([o for o in fleet.ORGANIZATIONS if environment.key in o.environments])
    profile = standard_profile(shape)
    hours = (index * 9) % SPAN_HOURS
    return Campaign(
        index=index,
        organization=organization,
        environment=environment,
        profile=profile,
        shape=shape,
        variant=variant,
        repetitions=rng.randint(3, 6),
        start=BASE_TIME + dt.timedelta(hours=hours, minutes=rng.randrange(0, 480)),
        latency_bias=rng.lognormvariate(0.0, environment.jitter / 2),
        cpu_bias=rng.lognormvariate(0.0, environment.jitter / 4),
    )


def plan(size: int, seed: int = DEFAULT_SEED) -> Iterator[tuple[int, Campaign, int]]:
    """``(submission index, campaign, repetition)`` for the first ``size`` submissions."""
    index, k = 0, 0
    while index < size:
        current = campaign(seed, k)
        for repetition in range(current.repetitions):
            if index >= size:
                return
            yield index, current, repetition
            index += 1
        k += 1


def is_outlier(index: int) -> bool:
    """Planted outliers: one submission in ``OUTLIER_EVERY`` (2%)."""
    return index % catalog.OUTLIER_EVERY == catalog.OUTLIER_OFFSET


@dataclass(frozen=True)
class ExpectedFigures:
    """CPU per 1k rps (mesh total), MiB per proxy, and added ms at p90 and p99."""

    cpu_mcores_per_1k_rps: float
    mem_mb_per_proxy: float
    added_p90_ms: float
    added_p99_ms: float


def standard_profile(shape: ProfileShape) -> Profile:
    profile = get_profile(shape.profile_id)
    if profile is None:  # the catalog names only standard profiles
        raise LookupError(f"{shape.profile_id} is not a standard profile")
    return profile


def expected(
    variant: MeshVariant, shape: ProfileShape, environment: EnvironmentSpec | None = None
) -> ExpectedFigures:
    """The figures a mesh run of ``variant`` on ``shape`` is generated around, at the
    requested rate and on the reference machine, before noise (and outliers)."""
    mesh, profile = variant.mesh, standard_profile(shape)
    rps = float(profile.rps or 1000)
    nodes = environment.count if environment else profile.services
    count = proxy_count(mesh, profile.services, nodes)
    cpu = proxy_cpu(variant, shape, rps) + count * mesh.proxy_idle_mcores
    cpu += mesh.control_plane_cpu_mcores
    added90, added99 = added_latency(variant, shape)
    return ExpectedFigures(cpu / (rps / 1000.0), mesh.proxy_mem_mb, added90, added99)


def proxy_count(mesh: MeshFigures, services: int, nodes: int) -> int:
    """Sidecars: one per service pod; a sidecarless mesh: one per node the services use."""
    return min(nodes, services) if mesh.sidecarless else services


def proxy_cpu(variant: MeshVariant, shape: ProfileShape, qps: float) -> float:
    """Millicores the proxies spend on ``qps`` requests/s on the reference machine."""
    mesh = variant.mesh
    traversals = mesh.proxies_per_hop * shape.hops
    factor = catalog.version_factor(mesh, variant.version) * shape.proxy_cpu_factor
    if not variant.mtls:
        factor *= mesh.mtls_off_cpu_factor
    return traversals * mesh.proxy_cpu_per_1k * factor * qps / 1000.0


def added_latency(variant: MeshVariant, shape: ProfileShape) -> tuple[float, float]:
    """What the mesh adds at p90 and p99 (ms, reference machine) on this profile."""
    mesh = variant.mesh
    factor = catalog.version_factor(mesh, variant.version) * shape.hops
    if not variant.mtls:
        factor *= mesh.mtls_off_latency_factor
    return (
        mesh.added_p90_ms * shape.added_p90_factor * factor,
        mesh.added_p99_ms * shape.added_p99_factor * factor,
    )
