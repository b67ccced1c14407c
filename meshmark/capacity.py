"""The capacity board: how much of the application's capacity each mesh keeps.

A capacity profile (``kind: capacity``) is not scored by MeshMark: its runs end
a search for the highest rate meeting the profile's objective (runner.capacity),
and what a reader wants is the share of the baseline's capacity the mesh keeps,
``mesh capacity / baseline capacity``, from the same invocation on the same
environment (docs/meshmark.md, "Capacity, churn and real-world mode"). One row
per configuration and environment class: the median of its ranked runs' ratios
with the 95% bootstrap interval (as the leaderboards compute theirs), the median
rates behind it, and the runs.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ingest.models import MeshConfig, Profile, Result
from ingest.selectors import public_results
from meshmark.selectors import SelectorError
from scoring.stats import bootstrap_ci
from smp.profiles import CAPACITY


@dataclass
class CapacityRow:
    mesh_config: MeshConfig
    environment_class: str
    kept: list[float] = field(default_factory=list)
    baseline_rps: list[float] = field(default_factory=list)
    mesh_rps: list[float] = field(default_factory=list)
    result_ids: list[int] = field(default_factory=list)
    median: float = 0.0
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def mesh_type(self) -> str:
        return self.mesh_config.mesh_type

    @property
    def label(self) -> str:
        return str(self.mesh_config)

    @property
    def results(self) -> int:
        return len(self.kept)

    @property
    def median_baseline_rps(self) -> float:
        return statistics.median(self.baseline_rps)

    @property
    def median_mesh_rps(self) -> float:
        return statistics.median(self.mesh_rps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mesh_type": self.mesh_config.mesh_type,
            "mesh_version": self.mesh_config.version,
            "mtls": self.mesh_config.mtls,
            "configuration": self.label,
            "capacity_kept": round(self.median, 4),
            "ci_low": None if self.ci_low is None else round(self.ci_low, 4),
            "ci_high": None if self.ci_high is None else round(self.ci_high, 4),
            "baseline_rps": round(self.median_baseline_rps, 1),
            "mesh_rps": round(self.median_mesh_rps, 1),
            "results": self.results,
            "result_ids": self.result_ids,
        }


@dataclass
class CapacityBoard:
    profile: Profile
    environment_class: str | None
    groups: list[tuple[str, int]]
    rows: list[CapacityRow]
    unranked: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": {
                "id": self.profile.pk,
                "version": self.profile.version,
                "name": self.profile.name,
                "objective_p99_ms": self.profile.objective_p99_ms,
                "error_budget": self.profile.error_budget,
                "search": self.profile.search,
            },
            "environment_class": self.environment_class,
            "groups": [{"environment_class": g, "results": n} for g, n in self.groups],
            "rows": [row.as_dict() for row in self.rows],
            "unranked_results": self.unranked,
        }


def capacity_profile(profile_id: str) -> Profile:
    profile = Profile.objects.filter(pk=profile_id).first()
    if profile is None or profile.kind != CAPACITY:
        known = ", ".join(Profile.objects.filter(kind=CAPACITY).values_list("pk", flat=True))
        raise SelectorError(
            "profile",
            f"no capacity profile {profile_id!r}; the capacity profiles are: {known or 'none'}",
            status=404,
        )
    return profile


def capacity_board(profile: Profile | str, params: Mapping[str, str]) -> CapacityBoard:
    """The board of ``profile`` in one environment class (``environment_class``, else the
    one with the most ranked runs): one query for the runs, one for their configurations."""
    if not isinstance(profile, Profile) or profile.kind != CAPACITY:
        profile = capacity_profile(str(getattr(profile, "pk", profile)))
    runs = list(
        public_results()
        .filter(profile=profile, role=Result.Role.MESH, baseline__isnull=False)
        .order_by("pk")
        .values_list(
            "pk",
            "ranked",
            "environment__environment_class",
            "capacity_rps",
            "mesh_config_id",
            "baseline__capacity_rps",
        )
    )
    counts: dict[str, int] = defaultdict(int)
    for _, ranked, group, *_rest in runs:
        if ranked:
            counts[group] += 1
    groups = sorted(counts.items(), key=lambda g: (-g[1], g[0]))
    env_class: str | None = params.get("environment_class") or (groups[0][0] if groups else None)
    if env_class and groups and env_class not in counts:
        raise SelectorError(
            "environment_class",
            f"no ranked capacity runs in environment class {env_class!r}; the classes are: "
            + ", ".join(g for g, _ in groups),
        )
    chosen = [r for r in runs if r[1] and r[2] == env_class and r[3] is not None and r[5]]
    configs = MeshConfig.objects.in_bulk({r[4] for r in chosen}) if chosen else {}
    rows: dict[int, CapacityRow] = {}
    for pk, _, _, mesh_rps, config_id, base in chosen:
        assert mesh_rps is not None and base  # chosen for it above
        row = rows.get(config_id)
        if row is None:
            row = rows[config_id] = CapacityRow(configs[config_id], str(env_class))
        row.kept.append(mesh_rps / base)
        row.baseline_rps.append(base)
        row.mesh_rps.append(mesh_rps)
        row.result_ids.append(pk)
    for row in rows.values():
        if len(row.kept) > 1:
            row.median, row.ci_low, row.ci_high = bootstrap_ci(row.kept)
        else:
            row.median = row.kept[0]
    ordered = sorted(rows.values(), key=lambda r: (-r.median, r.label))
    return CapacityBoard(
        profile=profile,
        environment_class=env_class,
        groups=groups,
        rows=ordered,
        unranked=sum(1 for r in runs if not r[1]),
    )


def capacity_chart(result: Result) -> dict[str, Any] | None:
    """The trials of a capacity result and of its baseline, for the result page's chart
    (``smp`` is read here: the trials are kept in the stored run, not in columns)."""
    if result.profile.kind != CAPACITY:
        return None
    mesh_id = result.pk if result.role == Result.Role.MESH else None
    base_id = result.baseline_id if mesh_id else result.pk
    docs = dict(Result.objects.filter(pk__in=[i for i in (mesh_id, base_id) if i]).values_list(
        "pk", "smp"
    ))  # fmt: skip

    def trials(pk: int | None) -> list[dict[str, Any]]:
        search = (docs.get(pk) or {}).get("capacity") or {} if pk is not None else {}
        return [
            {
                "requested_qps": t.get("requested_qps"),
                "actual_qps": t.get("actual_qps"),
                "p99_ms": t.get("p99_ms"),
                "error_rate": t.get("error_rate"),
                "passed": bool(t.get("passed")),
            }
            for t in search.get("trials", [])
        ]

    base_search = ((docs.get(base_id) or {}).get("capacity") or {}) if base_id else {}
    mesh_search = ((docs.get(mesh_id) or {}).get("capacity") or {}) if mesh_id else {}
    objective = mesh_search.get("objective_p99_ms") or base_search.get("objective_p99_ms")
    return {
        "objective_p99_ms": objective or result.profile.objective_p99_ms,
        "baseline": trials(base_id),
        "mesh": trials(mesh_id),
        "baseline_rps": base_search.get("rps"),
        "mesh_rps": mesh_search.get("rps"),
        "baseline_converged": base_search.get("converged"),
        "mesh_converged": mesh_search.get("converged"),
    }
