"""The standard test profiles, shipped as YAML in the package (``smp/data/profiles.yaml``).

The server seeds its Profile table from here and smp-runner runs them, so a
profile id names the same test on both sides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

from smp.loaders import load_yaml

DEFAULT_ERROR_BUDGET = 0.01
"""Every standard profile's error budget (1% of requests), and custom profiles'."""
FIXED = "fixed"
CAPACITY = "capacity"
KINDS = (FIXED, CAPACITY)


@dataclass(frozen=True)
class Profile:
    id: str
    version: int
    name: str
    description: str
    protocol: str
    rps: int | None
    connections: int
    payload_bytes: int
    duration_s: int
    warmup_s: int
    services: int
    error_budget: float
    """The share of requests a mesh run may fail beyond its baseline and still be ranked
    (docs/meshmark.md, "Admission"); MeshMark 2's errors MUE spends it."""
    kind: str = FIXED
    """``fixed``: a fixed-rate test scored by MeshMark; ``capacity``: a search for the
    highest rate meeting ``objective_p99_ms`` (docs/meshmark.md, "Capacity, churn and
    real-world mode"), shown as the capacity the mesh keeps."""
    objective_p99_ms: float | None = None
    """Capacity profiles: a trial passes when its p99 is at most this (and its errors
    within ``error_budget``)."""
    search: dict[str, float] | None = None
    """Capacity profiles: ``start_rps``, ``max_rps``, ``tolerance`` (the search stops when
    the first failing rate is within this share above the last passing one) and
    ``max_trials`` per phase; ``duration_s`` is each trial's length."""
    keepalive: bool = True
    """False: every request on a new connection (the churn profiles)."""
    real_world_of: str | None = None
    """The fixed profile whose load a real-world profile draws at random (runner.realworld)."""

    @property
    def is_capacity(self) -> bool:
        return self.kind == CAPACITY

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def standard_profiles() -> tuple[Profile, ...]:
    text = resources.files("smp").joinpath("data/profiles.yaml").read_bytes()
    doc = load_yaml(text, "profiles")
    profiles = tuple(Profile(**entry) for entry in doc["profiles"])
    for profile in profiles:
        if profile.kind not in KINDS:
            raise ValueError(f"profile {profile.id}: kind {profile.kind!r} is not one of {KINDS}")
        if profile.is_capacity and (profile.objective_p99_ms is None or not profile.search):
            raise ValueError(f"capacity profile {profile.id} needs objective_p99_ms and search")
    return profiles


def get_profile(profile_id: str) -> Profile | None:
    for profile in standard_profiles():
        if profile.id == profile_id:
            return profile
    return None


def real_world_profile(profile_id: str) -> Profile | None:
    """The real-world profile drawn from fixed profile ``profile_id``, if there is one."""
    for profile in standard_profiles():
        if profile.real_world_of == profile_id:
            return profile
    return None
