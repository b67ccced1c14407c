"""What a conformance report is to the index: its constants, its mesh profiles, the verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from smp.errors import Problem
from smp.versions import release_key, release_of

FORMAT = "gateway-api-conformance"
KIND = "ConformanceReport"
API_GROUP = "gateway.networking.k8s.io/"
MESH_PROFILES = ("MESH-HTTP", "MESH-GRPC")
LEGACY_PROFILES = {"MESH": "MESH-HTTP"}
"""Profile names before Gateway API v1.1, and what they became."""
RESULTS = ("success", "partial", "failure")
FORM_FIELDS = ("mesh_type", "mesh_version")
MAX_PROFILES = 50
MAX_LIST = 1000
MAX_TEXT = 4096
FEATURE_LISTS_SHRINK = (1, 4)
"""From this Gateway API release on, mesh profiles list only ``Mesh*`` features."""
PROJECTS = {
    "istio": "istio",
    "cilium": "cilium",
    "linkerd": "linkerd",
    "kuma": "kuma",
    "consul": "consul",
    "kong mesh": "kuma",
    "traefik mesh": "traefik_mesh",
    "app mesh": "appmesh",
}
"""Report projects (lower case) that name a mesh type of the index. Distributions
(Buoyant Enterprise for Linkerd, Alibaba Cloud Service Mesh) are not assumed to be
their upstream: their uploader says which mesh they are with ``mesh_type``."""


class VersionText(str):
    """A plain YAML scalar that YAML would read as a float (``1.20``), kept as its text."""

    __slots__ = ()


def kind_of(value: Any) -> str:
    """What a value is, in words, for an error message."""
    return {list: "a list", str: "a text", type(None): "empty"}.get(
        type(value), type(value).__name__
    )


@dataclass
class ProfileReport:
    """One mesh profile of a report; ``name`` is the current name (``MESH-HTTP`` for ``MESH``)."""

    name: str
    reported_name: str
    core_result: str
    core_passed: int
    core_failed: int
    core_skipped: int
    extended_result: str | None = None
    extended_passed: int | None = None
    extended_failed: int | None = None
    extended_skipped: int | None = None
    supported_features: list[str] = field(default_factory=list)
    unsupported_features: list[str] = field(default_factory=list)
    skipped_tests: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether the profile's core tests all passed (the profile is "passed")."""
        return self.core_result == "success"

    @property
    def legacy(self) -> bool:
        return self.reported_name != self.name

    @property
    def core_total(self) -> int:
        return self.core_passed + self.core_failed + self.core_skipped

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileReport:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class ConformanceDocument:
    """What the index keeps of a report: where it comes from and its mesh profiles."""

    api_version: str
    gateway_api_version: str
    gateway_api_channel: str
    mode: str
    date: str
    project: str
    implementation_organization: str
    url: str
    reported_version: str
    mesh_type: str
    mesh_version: str
    profiles: list[ProfileReport]
    other_profiles: list[str]

    @property
    def gateway_api_release(self) -> str | None:
        return release_of(self.gateway_api_version)


@dataclass
class ConformanceReading:
    """The verdict on a report: the document when it can be kept, every problem otherwise."""

    digest: str
    format: str = FORMAT
    document: ConformanceDocument | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    unsupported: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def comparable_features(version_a: str, version_b: str) -> tuple[bool, str]:
    """Whether two reports' extended feature lists (by their ``gatewayAPIVersion``) can be
    compared name by name.

    From Gateway API v1.4 mesh profiles list only ``Mesh*`` features, so a report
    from before and one from after differ in their lists whatever the meshes
    support: only their ``Mesh*`` features are compared then. Returns
    ``(mesh_only, reason)``; ``reason`` is empty when the full lists compare.
    """
    key_a, key_b = release_key(version_a), release_key(version_b)
    if key_a is None or key_b is None:
        return True, "a report's Gateway API version is not a release: only Mesh* features compared"
    after = [key_a[:2] >= FEATURE_LISTS_SHRINK, key_b[:2] >= FEATURE_LISTS_SHRINK]
    if after[0] != after[1]:
        return True, (
            f"reports from Gateway API {version_a} and {version_b}: from v1.4 mesh profiles "
            "list only Mesh* features, so only those are compared"
        )
    return False, ""
