"""Reads of the read side: leaderboards, comparisons and badges.

A leaderboard reads only its group's pre-computed rows; filters that rows
cannot answer (Kubernetes version, dates) aggregate the group's entries, which
are bounded by the group, never by the whole index.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Sum

from ingest.models import LeaderboardEntry, LeaderboardRow, MeshConfig, Profile, Result
from scoring import FORMULA_VERSION
from scoring.rows import ENTRY_COLUMNS, EntryColumns, row_values
from scoring.stats import compare as compare_samples
from scoring.stats import ties

ROW_FILTERS = ("mesh", "mtls", "min_version", "max_version")
ENTRY_FILTERS = ("kubernetes_version", "since", "until", "certified")
PERCENTILES = ("p50", "p90", "p99", "p999")


class SelectorError(ValueError):
    """A bad filter or an unknown name; ``field`` says which parameter."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def version_key(version: str) -> tuple[int, ...]:
    """``v1.24.1-rc.2`` -> (1, 24, 1, 2): numeric parts, for version ranges."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


@dataclass
class Row:
    mesh_config_id: int
    mesh_type: str
    mesh_version: str
    mtls: bool | None
    telemetry: bool | None
    complete: bool
    median: float
    # None for a row of one run: one run carries no spread (see has_interval).
    ci_low: float | None
    ci_high: float | None
    results: int
    submissions: int
    organizations: int
    environments: int
    outliers: int
    added_p99_ms: float | None
    cpu_mcores_per_1k_rps: float | None
    mem_mb_per_proxy: float | None
    normalized: bool
    # None for a row of one run: it is listed after the ranked rows, unranked.
    rank: int | None = 0
    tied: bool = False

    @property
    def label(self) -> str:
        mtls = {True: "mTLS", False: "no mTLS", None: ""}[self.mtls]
        return " ".join(p for p in (self.mesh_type, self.mesh_version, mtls) if p)

    @property
    def has_interval(self) -> bool:
        return self.ci_low is not None

    def as_dict(self) -> dict[str, Any]:
        note = "" if self.has_interval else SINGLE_RUN_NOTE
        return {**asdict(self), "label": self.label, "interval_note": note}


SINGLE_RUN_NOTE = (
    "one run: no interval (one run carries no spread), so it is not ranked against the others"
)


@dataclass
class Leaderboard:
    profile: Profile
    environment_class: str | None
    formula_version: str
    groups: list[dict[str, Any]]
    rows: list[Row] = field(default_factory=list)
    partial_rows: list[Row] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)
    from_entries: bool = False
    # leaderboard_state() of what was selected, when it came through leaderboard_cached.
    state: str = ""


def _bool(name: str, value: str) -> bool:
    if value.lower() in {"true", "1", "yes"}:
        return True
    if value.lower() in {"false", "0", "no"}:
        return False
    raise SelectorError(name, f"{name} must be true or false, got {value!r}")


def _date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SelectorError(name, f"{name} must be a date like 2026-01-31, got {value!r}") from None


def leaderboard_groups(profile: Profile, version: str = FORMULA_VERSION) -> list[dict[str, Any]]:
    """The comparability groups a profile has results in, largest first."""
    rows = (
        LeaderboardRow.objects.filter(formula_version=version, profile=profile)
        .values("environment_class", "profile_version", "protocol")
        .annotate(configurations=Count("id"), results=Sum("results"))
        .order_by("-results", "environment_class")
    )
    return [dict(row) for row in rows]


def leaderboard(profile_id: str, params: Mapping[str, str]) -> Leaderboard:
    """One profile's leaderboard in one group, ranked with ties, filtered by ``params``."""
    profile = Profile.objects.filter(pk=profile_id).first()
    if profile is None:
        known = ", ".join(Profile.objects.values_list("id", flat=True))
        raise SelectorError("profile", f"unknown profile {profile_id!r}; known: {known}", 404)
    version = params.get("formula_version") or FORMULA_VERSION
    groups = leaderboard_groups(profile, version)
    env_class = params.get("environment_class") or (
        groups[0]["environment_class"] if groups else None
    )
    board = Leaderboard(profile, env_class, version, groups)
    board.filters = {k: v for k, v in params.items() if k in ROW_FILTERS + ENTRY_FILTERS and v}
    if env_class is None:
        return board
    rows = _rows(profile, env_class, version, board.filters)
    board.from_entries = any(k in board.filters for k in ENTRY_FILTERS)
    _filter_rows(rows, board.filters)
    complete = [r for r in rows if r.complete]
    partial = [r for r in rows if not r.complete]
    board.rows, board.partial_rows = _ranked(complete), _ranked(partial)
    return board


def leaderboard_state(profile_id: str, params: Mapping[str, str]) -> str:
    """A tag that changes whenever the leaderboard ``params`` select could change.

    Everything a leaderboard shows comes from its profile's rows (or from the
    entries behind them, which never change without their rows being
    refreshed), so the rows' count and latest ``updated_at`` plus the
    parameters that matter identify its content: one indexed query (plain SQL:
    building it with the ORM cost more than running it), used as the cache
    key and as the HTTP ETag.
    """
    version = params.get("formula_version") or FORMULA_VERSION
    with connection.cursor() as cursor:
        cursor.execute(_state_sql(), [version, profile_id])
        rows, last = cursor.fetchone()
    wanted = sorted(
        (k, v)
        for k, v in params.items()
        if v and k in (*ROW_FILTERS, *ENTRY_FILTERS, *STATE_PARAMS)
    )
    raw = json.dumps([profile_id, version, rows, str(last or ""), wanted])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@functools.cache
def _state_sql() -> str:
    meta = LeaderboardRow._meta

    def column(name: str) -> str:
        return connection.ops.quote_name(str(getattr(meta.get_field(name), "column", name)))

    # Identifiers come from the model, quoted; the values are parameters.
    return (
        f"SELECT COUNT(*), MAX({column('updated_at')}) "  # noqa: S608
        f"FROM {connection.ops.quote_name(meta.db_table)} "
        f"WHERE {column('formula_version')} = %s AND {column('profile')} = %s"
    )


STATE_PARAMS = ("environment_class", "formula_version")


def leaderboard_cached(profile_id: str, params: Mapping[str, str]) -> Leaderboard:
    """:func:`leaderboard`, from the cache while :func:`leaderboard_state` is unchanged."""
    state = leaderboard_state(profile_id, params)
    key = f"meshmark:leaderboard:{state}"
    board = cache.get(key)
    if board is None:
        board = leaderboard(profile_id, params)
        board.state = state
        cache.set(key, board, settings.LEADERBOARD_CACHE_S)
    return board


def _rows(profile: Profile, env_class: str, version: str, filters: dict[str, str]) -> list[Row]:
    if not any(k in filters for k in ENTRY_FILTERS):
        stored = LeaderboardRow.objects.filter(
            formula_version=version, profile=profile, environment_class=env_class
        ).select_related("mesh_config")
        return [_row(r.mesh_config, r.complete, _stored_values(r)) for r in stored]
    entries = LeaderboardEntry.objects.filter(
        formula_version=version, profile=profile, environment_class=env_class, listed=True
    )
    if value := filters.get("kubernetes_version"):
        entries = entries.filter(kubernetes_version=value.lstrip("v"))
    if value := filters.get("since"):
        entries = entries.filter(created_at__date__gte=_date("since", value))
    if value := filters.get("until"):
        entries = entries.filter(created_at__date__lte=_date("until", value))
    if (value := filters.get("certified")) and _bool("certified", value):
        # Runs whose environment passed smp-runner's certify (docs/meshmark.md, section 9).
        entries = entries.filter(certified=True)
    grouped: dict[tuple[int, bool], list[tuple[Any, ...]]] = {}
    for config_id, complete, *columns in entries.order_by("pk").values_list(
        "mesh_config_id", "complete", *ENTRY_COLUMNS
    ):
        grouped.setdefault((config_id, complete), []).append(tuple(columns))
    configs = MeshConfig.objects.in_bulk([key[0] for key in grouped])
    out = []
    for (config_id, complete), group in grouped.items():
        values, _ = row_values(EntryColumns.from_rows(group))
        if values is not None:
            out.append(_row(configs[config_id], complete, values))
    return out


def _stored_values(row: LeaderboardRow) -> dict[str, Any]:
    return {f: getattr(row, f) for f in VALUE_FIELDS}


VALUE_FIELDS: tuple[str, ...] = (
    "median",
    "ci_low",
    "ci_high",
    "results",
    "submissions",
    "organizations",
    "environments",
    "outliers",
    "added_p99_ms",
    "cpu_mcores_per_1k_rps",
    "mem_mb_per_proxy",
    "normalized",
)


def _row(config: MeshConfig, complete: bool, values: Mapping[str, Any]) -> Row:
    row = Row(
        mesh_config_id=config.pk,
        mesh_type=config.mesh_type,
        mesh_version=config.version,
        mtls=config.mtls,
        telemetry=config.telemetry,
        complete=complete,
        **{f: values[f] for f in VALUE_FIELDS},
    )
    if row.results < 2:
        # The stored interval of one run is [median, median]: a point posing as an interval.
        row.ci_low = row.ci_high = None
    return row


def _filter_rows(rows: list[Row], filters: dict[str, str]) -> None:
    keep = list(rows)
    if value := filters.get("mesh"):
        keep = [r for r in keep if r.mesh_type == value.lower()]
    if value := filters.get("mtls"):
        wanted = _bool("mtls", value)
        keep = [r for r in keep if r.mtls is wanted]
    if value := filters.get("min_version"):
        keep = [r for r in keep if version_key(r.mesh_version) >= version_key(value)]
    if value := filters.get("max_version"):
        keep = [r for r in keep if version_key(r.mesh_version) <= version_key(value)]
    rows[:] = keep


def _bound(value: float | None, row: Row) -> float:
    return row.median if value is None else value


def _ranked(rows: list[Row]) -> list[Row]:
    """Rows with an interval ranked with ties (:func:`scoring.stats.ties`); rows of one run
    after them, unranked: with no spread they can neither be placed above nor tied with
    another row, and leaving them out keeps them from chaining or splitting the others."""
    ranked = [r for r in rows if r.has_interval]
    single = [r for r in rows if not r.has_interval]
    ranks = ties([(r.median, _bound(r.ci_low, r), _bound(r.ci_high, r)) for r in ranked])
    for row, rank in zip(ranked, ranks, strict=True):
        row.rank = rank
    counts: dict[int, int] = {}
    for rank in ranks:
        counts[rank] = counts.get(rank, 0) + 1
    for row in ranked:
        row.tied = counts[row.rank] > 1  # type: ignore[index]
    for row in single:
        row.rank, row.tied = None, False
    ranked.sort(key=lambda r: (r.rank, -r.median, r.mesh_config_id))
    single.sort(key=lambda r: (-r.median, r.mesh_config_id))
    return ranked + single


@dataclass
class Comparison:
    profile: Profile
    environment_class: str
    rows: list[Row]
    tests: list[dict[str, Any]]
    curves: dict[int, dict[str, dict[str, float | None]]]


def compare(params: Mapping[str, str]) -> Comparison:
    """Two or more mesh configurations side by side in one group, with significance tests.

    Raises SelectorError(status 409) naming why when the configurations have no
    comparability group in common.
    """
    raw = params.get("configs", "")
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise SelectorError("configs", "configs must be comma-separated ids, e.g. 3,7") from None
    if len(ids) < 2 or len(set(ids)) != len(ids):
        raise SelectorError("configs", "name two or more different configurations, e.g. 3,7")
    profile_id = params.get("profile")
    if not profile_id:
        raise SelectorError("profile", "profile is required, e.g. http-1k")
    version = params.get("formula_version") or FORMULA_VERSION
    base = LeaderboardRow.objects.filter(
        formula_version=version, profile_id=profile_id, mesh_config_id__in=ids, complete=True
    ).select_related("mesh_config", "profile")
    if env := params.get("environment_class"):
        base = base.filter(environment_class=env)
    by_group: dict[str, dict[int, LeaderboardRow]] = {}
    for row in base:
        by_group.setdefault(row.environment_class, {})[row.mesh_config_id] = row
    shared = [g for g, found in by_group.items() if set(found) == set(ids)]
    if not shared:
        seen = "; ".join(
            f"{group}: configuration {', '.join(str(i) for i in sorted(found))}"
            for group, found in sorted(by_group.items())
        )
        raise SelectorError(
            "configs",
            "not comparable: these configurations have no comparability group in common "
            f"for profile {profile_id} (results by group: {seen or 'none'}); MeshMark only "
            "ranks runs of the same profile version, protocol and environment class",
            409,
        )
    group = max(shared, key=lambda g: sum(r.results for r in by_group[g].values()))
    stored = by_group[group]
    rows = [_row(stored[i].mesh_config, True, _stored_values(stored[i])) for i in ids]
    samples = {
        i: list(
            LeaderboardEntry.objects.filter(
                formula_version=version,
                profile_id=profile_id,
                environment_class=group,
                mesh_config_id=i,
                complete=True,
                listed=True,
                is_outlier=False,
            ).values_list("value", "result_id")
        )
        for i in ids
    }
    tests = []
    for other in ids[1:]:
        result = compare_samples([v for v, _ in samples[ids[0]]], [v for v, _ in samples[other]])
        tests.append({"a": ids[0], "b": other, **asdict(result)})
    curves = {i: _latency_curve([r for _, r in samples[i]]) for i in ids}
    first = stored[ids[0]]
    return Comparison(first.profile, group, rows, tests, curves)


def _latency_curve(result_ids: list[int]) -> dict[str, dict[str, float | None]]:
    """Median baseline and mesh latency at each percentile over these mesh results (ms)."""
    columns = [f"{p}_ms" for p in PERCENTILES]
    rows = Result.objects.filter(pk__in=result_ids).values_list(
        *columns, *(f"baseline__{c}" for c in columns)
    )
    data = np.array(
        [[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64
    ).reshape(-1, 2 * len(columns))
    out: dict[str, dict[str, float | None]] = {"mesh": {}, "baseline": {}}
    for i, name in enumerate(PERCENTILES):
        for label, offset in (("mesh", 0), ("baseline", len(columns))):
            column = data[:, i + offset]
            column = column[~np.isnan(column)]
            out[label][name] = float(np.median(column)) if column.size else None
    return out


def badge_row(mesh: str, version: str, profile_id: str) -> LeaderboardRow | None:
    """The row a badge shows: this mesh release on this profile, in its largest group.

    With several configurations (mTLS on/off), the one with the most results.
    """
    return (
        LeaderboardRow.objects.filter(
            formula_version=FORMULA_VERSION,
            profile_id=profile_id,
            mesh_config__mesh_type=mesh.lower(),
            mesh_config__version=version,
            complete=True,
        )
        .select_related("mesh_config")
        .order_by("-results", "-median")
        .first()
    )
