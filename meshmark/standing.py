"""Where a run stands: the share of its group's ranked runs that it scores better than.

A run's *group* is its leaderboard's: the formula version, profile, environment
class and completeness of its score (complete and partial scores are ranked
apart). The group's ranked runs are its listed entries that are not outliers.
Each group's scores are read once, sorted, and cached under the state of the
group's rows (their count and latest update), so a page listing a hundred runs
reads each group at most once and, after that, only when a row of it changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Q

from ingest.models import LeaderboardEntry, LeaderboardRow
from scoring import FORMULA_VERSION

GroupKey = tuple[str, str, bool]
"""(profile id, environment class, complete)"""


@dataclass(frozen=True)
class Standing:
    """``better_than`` of the ``others`` ranked runs of the group score lower than this run
    (ties count half); ``n`` counts the group's ranked runs, this one included if it is one."""

    profile_id: str
    environment_class: str
    complete: bool
    better_than: float
    others: int
    n: int
    ranked: bool

    @property
    def percent(self) -> int:
        return round(100 * self.better_than / self.others) if self.others else 0


def _key(version: str, group: GroupKey, state: tuple[Any, Any]) -> str:
    raw = f"{version}|{group[0]}|{group[1]}|{group[2]}|{state[0]}|{state[1]}"
    return "meshmark:standing:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def _states(groups: set[GroupKey], version: str) -> dict[GroupKey, tuple[Any, Any]]:
    """Each group's rows' count and latest update, in one query."""
    match = Q()
    for profile_id, env_class, complete in groups:
        match |= Q(profile_id=profile_id, environment_class=env_class, complete=complete)
    rows = (
        LeaderboardRow.objects.filter(match, formula_version=version)
        .values("profile_id", "environment_class", "complete")
        .annotate(rows=Count("id"), last=Max("updated_at"))
    )
    return {
        (r["profile_id"], r["environment_class"], r["complete"]): (r["rows"], r["last"])
        for r in rows
    }


def group_scores(groups: set[GroupKey], version: str = FORMULA_VERSION) -> dict[GroupKey, Any]:
    """The sorted MeshMarks of each group's ranked runs (NumPy arrays), cached by state."""
    if not groups:
        return {}
    states = _states(groups, version)
    keys = {group: _key(version, group, states.get(group, (0, None))) for group in groups}
    found = cache.get_many(list(keys.values()))
    out = {group: found[key] for group, key in keys.items() if key in found}
    fresh = {}
    for group in groups - set(out):
        profile_id, env_class, complete = group
        values = LeaderboardEntry.objects.filter(
            formula_version=version,
            profile_id=profile_id,
            environment_class=env_class,
            complete=complete,
            listed=True,
            is_outlier=False,
        ).values_list("value", flat=True)
        out[group] = np.sort(np.fromiter(values.iterator(chunk_size=20_000), dtype=np.float64))
        fresh[keys[group]] = out[group]
    if fresh:
        cache.set_many(fresh, settings.TREND_CACHE_S)
    return out


STANDING_COLUMNS = (
    "result_id",
    "profile_id",
    "environment_class",
    "complete",
    "value",
    "listed",
    "is_outlier",
)


def standings(result_ids: Iterable[int], version: str = FORMULA_VERSION) -> dict[int, Standing]:
    """The standing of each of these results that has a leaderboard entry (scored mesh runs)."""
    entries = list(
        LeaderboardEntry.objects.filter(
            result_id__in=list(result_ids), formula_version=version
        ).values_list(*STANDING_COLUMNS)
    )
    scores = group_scores({(e[1], e[2], e[3]) for e in entries}, version)
    out = {}
    for result_id, profile_id, env_class, complete, value, listed, outlier in entries:
        ordered = scores[profile_id, env_class, complete]
        below = int(np.searchsorted(ordered, value, side="left"))
        equal = int(np.searchsorted(ordered, value, side="right")) - below
        ranked = listed and not outlier
        # Among the others: this run is one of the equal values when it is ranked itself.
        ties = max(equal - 1, 0) if ranked else equal
        others = max(int(ordered.size) - (1 if ranked else 0), 0)
        out[result_id] = Standing(
            profile_id=profile_id,
            environment_class=env_class,
            complete=complete,
            better_than=below + ties / 2,
            others=others,
            n=int(ordered.size),
            ranked=ranked,
        )
    return out
