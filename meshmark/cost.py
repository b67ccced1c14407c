"""Cost projections of a leaderboard's configurations for a user's fleet (read side).

The projection itself is :mod:`scoring.cost`; this module picks the board,
reads each configuration's ranked runs once per state of the board (cached
under :func:`meshmark.selectors.leaderboard_state`, like the leaderboard
itself) and applies the fleet to them, which is cheap NumPy on every request.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils.http import urlencode

from ingest.models import LeaderboardEntry, LeaderboardRow, Profile
from meshmark import pagecache, selectors
from scoring import FORMULA_VERSION
from scoring.cost import Fleet, Projection, RunFigures, project, run_figures

DEFAULT_FLEET = Fleet(
    rps=10_000.0, pods=200.0, clusters=3.0, usd_per_vcpu_hour=0.0316, usd_per_gib_hour=0.0042
)
"""An example fleet, shown and labelled as one (docs/meshmark.md, "Cost projection")."""
FLEET_FIELDS = tuple(f.name for f in fields(Fleet))
_COLUMNS = (
    "mesh_config_id",
    "added_p99_ms",
    "score__calibration_factor",
    "result__sidecar_cpu_mcores",
    "result__gateway_cpu_mcores",
    "result__control_plane_cpu_mcores",
    "result__sidecar_mem_mb",
    "result__sidecar_count",
    "result__gateway_mem_mb",
    "result__control_plane_mem_mb",
    "result__actual_qps",
)


def assumptions(fleet: Fleet, profile: Profile) -> list[str]:
    """The assumptions behind the figures, in words, with this fleet's numbers."""
    g = fleet.speed_factor
    speed = (
        f"your machines score {fleet.calibration_score:g} on meshmark-cpu/1, {g:.2f} times the "
        "reference machine, so CPU and latency are divided by that"
        if fleet.calibration_score is not None
        else "your machines are taken to be the reference machine (give your "
        "smp-runner calibration score to change that)"
    )
    rate = f"{profile.rps:,} requests/s per service" if profile.rps else "its maximum rate"
    return [
        f"CPU scales with the rate: each run's data-plane CPU (sidecars and gateways) per "
        f"1,000 requests/s, normalized to the reference machine, times your "
        f"{fleet.rps:,.0f} requests/s; {speed}.",
        f"The control plane (with telemetry and policy) costs its measured CPU and memory once "
        f"per cluster: {fleet.clusters:,.0f} cluster(s). It was measured on a benchmark "
        "cluster; one serving thousands of pods uses more.",
        f"Memory scales with the proxies: memory per proxy times your {fleet.pods:,.0f} meshed "
        "pods (one sidecar each; for meshes with per-node proxies, such as Cilium, this "
        "overstates memory), plus the gateways' memory once per cluster. Memory does not "
        "depend on the rate or on machine speed.",
        f"Money: vCPU x ${fleet.usd_per_vcpu_hour:g} per vCPU-hour plus GiB x "
        f"${fleet.usd_per_gib_hour:g} per GiB-hour, 730 hours a month.",
        "Each run of a configuration gives one projection; the figure is their median and "
        "the interval its 95% bootstrap interval, so it carries the runs' spread. A "
        "configuration with one run shows no interval.",
        f"Added p99 is what the profile measured at {rate} with {profile.connections} "
        "connections; it is not extrapolated to other rates.",
    ]


@dataclass
class CostRow:
    row: selectors.Row
    projection: Projection


@dataclass
class CostBoard:
    profile: Profile
    environment_class: str | None
    groups: list[dict[str, Any]]
    fleet: Fleet
    defaults: list[str]
    rows: list[CostRow] = field(default_factory=list)
    suggested_profile: str | None = None
    assumptions: list[str] = field(default_factory=list)
    # Names this board and fleet's projection (its rows' cache key): a page cache key too.
    key: str = ""

    @property
    def rate_per_pod(self) -> float | None:
        return self.fleet.rps / self.fleet.pods if self.fleet.pods else None


def cost_url(*, profile: str, environment_class: str, configs: list[int]) -> str:
    """The cost page for these configurations of one board (linked from results and compare)."""
    query = {"profile": profile, "environment_class": environment_class}
    query["configs"] = ",".join(str(c) for c in configs)
    return f"{reverse('cost')}?{urlencode(query)}"


def nearest_profile(rate_per_pod: float | None, candidates: list[Profile]) -> Profile | None:
    """The single-hop HTTP profile whose rate is nearest ``rate_per_pod`` (on a log scale)."""
    usable = [p for p in candidates if p.protocol == "http" and p.rps and p.services == 2]
    if not usable or not rate_per_pod or rate_per_pod <= 0:
        return None
    return min(usable, key=lambda p: (abs(math.log(p.rps / rate_per_pod)), p.pk))  # type: ignore[operator]


def _figures(profile_id: str, environment_class: str, state: str) -> dict[int, RunFigures]:
    """Each configuration's per-run figures in this group, cached until the board changes
    (``state``: the board's :func:`meshmark.selectors.leaderboard_state`)."""
    group = hashlib.sha256(f"{profile_id}|{environment_class}".encode()).hexdigest()[:16]
    key = f"meshmark:cost-figures:{state}:{group}"
    found = cache.get(key)
    if found is not None:
        return dict(found)
    columns: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    entries = LeaderboardEntry.objects.filter(
        formula_version=FORMULA_VERSION,
        profile_id=profile_id,
        environment_class=environment_class,
        complete=True,
        listed=True,
        is_outlier=False,
    ).values_list(*_COLUMNS)
    for config_id, *values in entries.iterator(chunk_size=10_000):
        columns[config_id].append(tuple(np.nan if v is None else v for v in values))
    out = {}
    for config_id, rows in columns.items():
        array = np.array(rows, dtype=np.float64)
        out[config_id] = run_figures(
            added_p99_ms=array[:, 0],
            calibration_factor=array[:, 1],
            sidecar_mcores=array[:, 2],
            gateway_mcores=array[:, 3],
            control_plane_mcores=array[:, 4],
            sidecar_mem_mb=array[:, 5],
            sidecar_count=array[:, 6],
            gateway_mem_mb=array[:, 7],
            control_plane_mem_mb=array[:, 8],
            actual_qps=array[:, 9],
        )
    cache.set(key, out, settings.LEADERBOARD_CACHE_S)
    return out


def cost_board_for(values: dict[str, Any]) -> CostBoard:
    """:func:`cost_board` for the validated figures of the cost page or API (their
    serializer's ``validated_data``)."""
    return cost_board(
        profile_id=values.get("profile"),
        environment_class=values.get("environment_class"),
        fleet=values["fleet"],
        defaults=values["defaults"],
        configs=values.get("configs"),
        mesh=values.get("mesh"),
    )


def cost_board(
    *,
    profile_id: str | None,
    environment_class: str | None,
    fleet: Fleet,
    defaults: list[str],
    configs: list[int] | None = None,
    mesh: str | None = None,
) -> CostBoard:
    """Every configuration of the board, projected for ``fleet``, cheapest first.

    Without ``profile_id`` the board is the single-hop HTTP profile nearest the
    fleet's rate per pod among those with ranked runs; without
    ``environment_class`` its largest group. ``configs`` and ``mesh`` narrow the rows.
    """
    profiles = list(Profile.objects.all())
    with_rows = set(
        LeaderboardRow.objects.filter(formula_version=FORMULA_VERSION)
        .values_list("profile_id", flat=True)
        .distinct()
    )
    ranked = [p for p in profiles if p.pk in with_rows]
    rate = fleet.rps / fleet.pods if fleet.pods else None
    suggested = nearest_profile(rate, ranked or profiles)
    chosen = profile_id or (suggested.pk if suggested else "http-1k")
    params = {"environment_class": environment_class} if environment_class else {}
    board = selectors.leaderboard_cached(chosen, params)
    result = CostBoard(
        profile=board.profile,
        environment_class=board.environment_class,
        groups=board.groups,
        fleet=fleet,
        defaults=defaults,
        suggested_profile=suggested.pk if suggested else None,
        assumptions=assumptions(fleet, board.profile),
    )
    if board.environment_class is None:
        return result
    # The same board and fleet give the same projection: cached while the board is unchanged.
    raw = repr((board.state, board.environment_class, fleet, configs, mesh))
    key = "meshmark:cost-rows:" + hashlib.sha256(raw.encode()).hexdigest()[:40]
    result.key = key
    cached = cache.get(key)
    if cached is not None:
        result.rows = cached
        return result
    figures = _figures(board.profile.pk, board.environment_class, board.state)
    rows = [r for r in board.rows if configs is None or r.mesh_config_id in configs]
    if mesh:
        rows = [r for r in rows if r.mesh_type == mesh.lower()]
    for row in rows:
        runs = figures.get(row.mesh_config_id)
        if runs is None:
            continue
        result.rows.append(CostRow(row, project(runs, fleet)))
    result.rows.sort(
        key=lambda c: (
            c.projection.usd_per_month is None,
            c.projection.usd_per_month.median if c.projection.usd_per_month else 0.0,
            c.row.label,
        )
    )
    cache.set(key, result.rows, settings.LEADERBOARD_CACHE_S)
    return result


def boards_state() -> tuple[Any, ...]:
    """Every current board's rows' count and latest change, in one indexed query: an answer
    cached under it and the request's figures is served without reading any board."""
    with connection.cursor() as cursor:
        cursor.execute(_boards_state_sql(), [FORMULA_VERSION])
        return tuple(cursor.fetchone())


@functools.cache
def _boards_state_sql() -> str:
    meta = LeaderboardRow._meta
    table = connection.ops.quote_name(meta.db_table)
    updated = connection.ops.quote_name(str(meta.get_field("updated_at").column))
    version = connection.ops.quote_name(str(meta.get_field("formula_version").column))
    # Identifiers come from the model; the version is a parameter.
    return f"SELECT COUNT(*), MAX({updated}) FROM {table} WHERE {version} = %s"  # noqa: S608


def answer_key(name: str, values: dict[str, Any]) -> str:
    """The cache key of an answer to these validated inputs, as the boards are now."""
    wanted = {k: v for k, v in values.items() if k != "fleet"}
    return pagecache.page_key(name, repr(sorted(wanted.items())), values["fleet"], boards_state())
