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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def standard_profiles() -> tuple[Profile, ...]:
    text = resources.files("smp").joinpath("data/profiles.yaml").read_bytes()
    doc = load_yaml(text, "profiles")
    return tuple(Profile(**entry) for entry in doc["profiles"])


def get_profile(profile_id: str) -> Profile | None:
    for profile in standard_profiles():
        if profile.id == profile_id:
            return profile
    return None
