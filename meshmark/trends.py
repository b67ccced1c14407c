"""Release trends of one mesh: its leaderboard rows, release by release, with change verdicts.

A *group* is a comparability group (profile, environment class); within it a
*series* is one configuration of the mesh apart from its version (mTLS,
telemetry, policy, proxy concurrency), so mTLS on and off are two series and a
trend only ever compares like with like. A series' *points* are its released
versions (:func:`smp.versions.release_of`) in release order, each read from its
leaderboard row (complete scores, outliers left out); between consecutive
points a *step* carries :func:`scoring.trends.change_verdict` on the two rows'
runs.

Rows are cheap to read (one query for the whole mesh). A verdict needs the two
rows' runs, so each one is cached under a key made of both rows' ids and
``updated_at`` and the rule's version: a new run changes its row's key and only
the two steps beside that row are computed again; nothing needs invalidating.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils.http import urlencode

from ingest.models import LeaderboardEntry, LeaderboardRow, MeshConfig
from meshmark.selectors import SelectorError
from scoring import FORMULA_VERSION
from scoring.trends import RULE_VERSION, Change, change_verdict
from smp.model import MESH_TYPES
from smp.versions import release_key, release_of

SERIES_FIELDS = ("mtls", "telemetry", "policy", "proxy_concurrency")
"""What tells a mesh's series apart in a group (everything but the version)."""
FIGURES = ("median", "added_p99_ms", "cpu_mcores_per_1k_rps", "mem_mb_per_proxy")
MESHES = tuple(t for t in MESH_TYPES if t != "none")


@dataclass
class Point:
    """One released version of one series in one group: its leaderboard row."""

    mesh_config_id: int
    version: str
    median: float
    ci_low: float
    ci_high: float
    results: int
    added_p99_ms: float | None
    cpu_mcores_per_1k_rps: float | None
    mem_mb_per_proxy: float | None
    normalized: bool
    row_id: int
    updated_at: Any
    last_at: Any
    board_url: str = ""

    @property
    def has_interval(self) -> bool:
        """One run carries no spread: its interval would be a point posing as one."""
        return self.results >= 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "mesh_config_id": self.mesh_config_id,
            "version": self.version,
            "median": self.median,
            "ci_low": self.ci_low if self.has_interval else None,
            "ci_high": self.ci_high if self.has_interval else None,
            "results": self.results,
            "added_p99_ms": self.added_p99_ms,
            "cpu_mcores_per_1k_rps": self.cpu_mcores_per_1k_rps,
            "mem_mb_per_proxy": self.mem_mb_per_proxy,
            "normalized": self.normalized,
            "last_at": self.last_at,
            "board_url": self.board_url,
        }


@dataclass
class Step:
    """From one release to the next one measured in the same series."""

    before: Point
    after: Point
    change: Change | None = None

    def as_dict(self) -> dict[str, Any]:
        assert self.change is not None
        return {
            "from_version": self.before.version,
            "to_version": self.after.version,
            "from_config": self.before.mesh_config_id,
            "to_config": self.after.mesh_config_id,
            **self.change.to_dict(),
        }


@dataclass
class Series:
    key: tuple[Any, ...]
    label: str
    points: list[Point] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **dict(zip(SERIES_FIELDS, self.key, strict=True)),
            "label": self.label,
            "points": [p.as_dict() for p in self.points],
            "steps": [s.as_dict() for s in self.steps],
        }


@dataclass
class Group:
    mesh_type: str
    profile_id: str
    profile_version: int
    protocol: str
    environment_class: str
    results: int = 0
    series: list[Series] = field(default_factory=list)
    # Versions with rows that are not releases (pre-releases, branches): kept out of the trend.
    unreleased: list[str] = field(default_factory=list)

    @property
    def versions(self) -> list[str]:
        found = {p.version for s in self.series for p in s.points}
        return sorted(found, key=lambda v: release_key(v) or ())

    @property
    def anchor(self) -> str:
        return (
            "group-"
            + hashlib.sha1(  # noqa: S324 - an HTML id, not security
                f"{self.profile_id}|{self.environment_class}".encode()
            ).hexdigest()[:10]
        )

    def chart(self) -> dict[str, Any]:
        """The group's figures per version and series, for the page's charts."""
        versions = self.versions
        out: dict[str, Any] = {"versions": versions, "series": []}
        for series in self.series:
            by_version = {p.version: p for p in series.points}
            entry: dict[str, Any] = {"label": series.label}
            for name in FIGURES:
                entry[name] = [
                    getattr(by_version[v], name) if v in by_version else None for v in versions
                ]
            entry["low"] = [
                by_version[v].ci_low if v in by_version and by_version[v].has_interval else None
                for v in versions
            ]
            entry["high"] = [
                by_version[v].ci_high if v in by_version and by_version[v].has_interval else None
                for v in versions
            ]
            entry["n"] = [by_version[v].results if v in by_version else None for v in versions]
            out["series"].append(entry)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile_id,
            "profile_version": self.profile_version,
            "protocol": self.protocol,
            "environment_class": self.environment_class,
            "results": self.results,
            "versions": self.versions,
            "unreleased_versions": self.unreleased,
            "series": [s.as_dict() for s in self.series],
        }


@dataclass
class MeshTrend:
    mesh_type: str
    formula_version: str
    profile_id: str | None
    groups: list[Group]
    # Every (profile, environment class) the mesh has rows in: the page's table of contents.
    overview: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)


def check_mesh(mesh_type: str) -> str:
    mesh = mesh_type.lower()
    if mesh not in MESHES:
        raise SelectorError(
            "mesh", f"unknown mesh {mesh_type!r}; the index knows: {', '.join(MESHES)}", 404
        )
    return mesh


def _series_label(key: tuple[Any, ...], varying: set[str]) -> str:
    values = dict(zip(SERIES_FIELDS, key, strict=True))
    words = {True: "on", False: "off", None: "not stated"}
    parts = [f"mTLS {words[values['mtls']]}"]
    if "telemetry" in varying:
        parts.append(f"telemetry {words[values['telemetry']]}")
    if "policy" in varying:
        parts.append(f"policy {words[values['policy']]}")
    if "proxy_concurrency" in varying:
        concurrency = values["proxy_concurrency"]
        parts.append(f"proxy concurrency {concurrency if concurrency is not None else '?'}")
    return ", ".join(parts)


def board_url(profile_id: str, environment_class: str, config_id: int) -> str:
    """The leaderboard row of this configuration (its anchor on the board)."""
    return f"{_board(profile_id, environment_class)}#config-{config_id}"


def _board(profile_id: str, environment_class: str) -> str:
    query = urlencode({"environment_class": environment_class})
    return f"{reverse('leaderboard', args=[profile_id])}?{query}"


def _rows(mesh: str, version: str) -> list[LeaderboardRow]:
    return list(
        LeaderboardRow.objects.filter(
            formula_version=version, complete=True, mesh_config__mesh_type=mesh
        )
        .select_related("mesh_config")
        .order_by("profile_id", "environment_class", "mesh_config_id")
    )


def _groups(mesh: str, rows: Iterable[LeaderboardRow]) -> list[Group]:
    grouped: dict[tuple[str, str], list[LeaderboardRow]] = defaultdict(list)
    for row in rows:
        grouped[row.profile_id, row.environment_class].append(row)
    groups = []
    for (profile_id, env_class), members in grouped.items():
        first = members[0]
        group = Group(mesh, profile_id, first.profile_version, first.protocol, env_class)
        group.results = sum(r.results for r in members)
        by_series: dict[tuple[Any, ...], list[Point]] = defaultdict(list)
        board = _board(profile_id, env_class)  # once per group: rows only add their anchor
        for row in members:
            config: MeshConfig = row.mesh_config
            if release_of(config.version) is None:
                group.unreleased.append(config.version or "(no version)")
                continue
            key = tuple(getattr(config, name) for name in SERIES_FIELDS)
            by_series[key].append(_point(row, config, board))
        varying = {
            name for i, name in enumerate(SERIES_FIELDS) if len({key[i] for key in by_series}) > 1
        }
        # mTLS on before off, "not stated" last; then the other fields the same way.
        for key in sorted(
            by_series, key=lambda k: tuple((v is None, v is False, str(v)) for v in k)
        ):
            points = sorted(by_series[key], key=lambda p: release_key(p.version) or ())
            series = Series(key, _series_label(key, varying), points)
            series.steps = [Step(a, b) for a, b in pairwise(points)]
            group.series.append(series)
        group.unreleased.sort()
        groups.append(group)
    groups.sort(key=lambda g: (g.profile_id, -g.results, g.environment_class))
    return groups


def _point(row: LeaderboardRow, config: MeshConfig, board: str) -> Point:
    return Point(
        mesh_config_id=config.pk,
        version=release_of(config.version) or config.version,
        median=row.median,
        ci_low=row.ci_low,
        ci_high=row.ci_high,
        results=row.results,
        added_p99_ms=row.added_p99_ms,
        cpu_mcores_per_1k_rps=row.cpu_mcores_per_1k_rps,
        mem_mb_per_proxy=row.mem_mb_per_proxy,
        normalized=row.normalized,
        row_id=row.pk,
        updated_at=row.updated_at,
        last_at=row.last_at,
        board_url=f"{board}#config-{config.pk}",
    )


def _step_key(version: str, step: Step) -> str:
    raw = (
        f"{RULE_VERSION}|{version}|{step.before.row_id}|{step.before.updated_at.isoformat()}|"
        f"{step.after.row_id}|{step.after.updated_at.isoformat()}"
    )
    return "meshmark:trend-step:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def judge_steps(groups: list[Group], version: str) -> None:
    """Give every step of these groups its verdict: from the cache, else from the runs."""
    steps = {
        _step_key(version, step): (group, step)
        for group in groups
        for series in group.series
        for step in series.steps
    }
    if not steps:
        return
    found = cache.get_many(list(steps))
    missing = {key: pair for key, pair in steps.items() if key not in found}
    values = _run_values([pair for pair in missing.values()], version)
    computed = {}
    for key, (group, step) in missing.items():
        before = values.get((group.profile_id, group.environment_class, step.before.mesh_config_id))
        after = values.get((group.profile_id, group.environment_class, step.after.mesh_config_id))
        computed[key] = change_verdict(before or [], after or [])
    if computed:
        cache.set_many(computed, settings.TREND_CACHE_S)
    for key, (_, step) in steps.items():
        step.change = found.get(key) or computed[key]


def _run_values(
    pairs: list[tuple[Group, Step]], version: str
) -> dict[tuple[str, str, int], list[float]]:
    """The MeshMarks of the ranked runs behind these steps' rows, one query per profile."""
    wanted: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for group, step in pairs:
        for point in (step.before, step.after):
            wanted[group.profile_id].add((group.environment_class, point.mesh_config_id))
    out: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for profile_id, keys in wanted.items():
        entries = LeaderboardEntry.objects.filter(
            formula_version=version,
            profile_id=profile_id,
            environment_class__in={env for env, _ in keys},
            mesh_config_id__in={config for _, config in keys},
            complete=True,
            listed=True,
            is_outlier=False,
        ).values_list("environment_class", "mesh_config_id", "value")
        for env, config, value in entries.iterator(chunk_size=10_000):
            if (env, config) in keys:
                out[profile_id, env, config].append(value)
    return out


def mesh_trend(
    mesh_type: str,
    *,
    profile_id: str | None = None,
    environment_class: str | None = None,
    all_profiles: bool = False,
) -> MeshTrend:
    """The release trends of ``mesh_type``: every group of one profile (the one with the
    most runs unless ``profile_id`` names one), or of every profile with ``all_profiles``;
    ``environment_class`` narrows to one group. Verdicts are given to the groups returned.
    Callers that serve a cached answer check :func:`mesh_state` first and call this only
    when the answer has to be built."""
    mesh = check_mesh(mesh_type)
    version = FORMULA_VERSION
    rows = _rows(mesh, version)
    groups = _groups(mesh, rows)
    results_by_profile: dict[str, int] = defaultdict(int)
    for group in groups:
        results_by_profile[group.profile_id] += group.results
    profiles = sorted(results_by_profile, key=lambda p: (-results_by_profile[p], p))
    if profile_id is not None and profile_id not in results_by_profile:
        known = ", ".join(profiles) or "none yet"
        raise SelectorError(
            "profile", f"{mesh} has no ranked runs of profile {profile_id!r}; it has: {known}"
        )
    chosen = profile_id or (profiles[0] if profiles else None)
    overview = [
        {
            "profile": g.profile_id,
            "environment_class": g.environment_class,
            "results": g.results,
            "versions": g.versions,
            "anchor": g.anchor,
        }
        for g in groups
    ]
    shown = [g for g in groups if all_profiles or g.profile_id == chosen]
    if environment_class:
        shown = [g for g in shown if g.environment_class == environment_class]
        if not shown:
            raise SelectorError(
                "environment_class",
                f"{mesh} has no ranked runs of {chosen} on {environment_class!r}",
            )
    judge_steps(shown, version)
    return MeshTrend(mesh, version, None if all_profiles else chosen, shown, overview, profiles)


def _state_of(version: str, count: int, latest: Any) -> str:
    # str(): PostgreSQL hands back a datetime, SQLite (the embedded mode) its text.
    raw = f"{RULE_VERSION}|{version}|{count}|{latest or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def mesh_state(mesh_type: str, version: str = FORMULA_VERSION) -> str:
    """A tag that changes whenever a row of the mesh changes (what everything a mesh page
    shows is made of): one aggregate query, so an answer cached under it is served without
    reading the rows or building the trend (plain SQL: the ORM's compiling cost more)."""
    with connection.cursor() as cursor:
        cursor.execute(_mesh_state_sql(), [version, mesh_type])
        count, latest = cursor.fetchone()
    return _state_of(version, count, latest)


@functools.cache
def _mesh_state_sql() -> str:
    row, config = LeaderboardRow._meta, MeshConfig._meta

    def column(meta: Any, name: str) -> str:
        return connection.ops.quote_name(meta.get_field(name).column)

    rows, configs = (
        connection.ops.quote_name(row.db_table),
        connection.ops.quote_name(config.db_table),
    )
    # Identifiers come from the models; the values are parameters.
    return (
        f"SELECT COUNT(*), MAX(r.{column(row, 'updated_at')}) FROM {rows} r "  # noqa: S608
        f"JOIN {configs} m ON m.{column(config, 'id')} = r.{column(row, 'mesh_config')} "
        f"WHERE r.{column(row, 'formula_version')} = %s AND r.{column(row, 'complete')} "
        f"AND m.{column(config, 'mesh_type')} = %s"
    )


def regressions(mesh_type: str) -> list[tuple[Group, Series, Step]]:
    """Every release step of ``mesh_type`` judged a regression, newest run first."""
    trend = mesh_trend(mesh_type, all_profiles=True)
    found = [
        (group, series, step)
        for group in trend.groups
        for series in group.series
        for step in series.steps
        if step.change is not None and step.change.verdict == "regression"
    ]
    found.sort(key=lambda item: item[2].after.last_at, reverse=True)
    return found
