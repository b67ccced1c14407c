"""Leaderboard aggregates: entries per scored run, rows per mesh configuration and group.

Entries mirror the current-version scores with the keys leaderboards group
and filter by. A row is recomputed from its own entries whenever one of them
changes (a new result, a moderation decision), so an accepted result reaches
its leaderboard in the transaction that accepts it; a periodic rebuild redoes
everything from the scores.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
from django.db import transaction

from meshmark.models import LeaderboardEntry, LeaderboardRow, Score
from meshmark.scoring import FORMULA_VERSION
from meshmark.scoring.stats import bootstrap_ci, outlier_mask

logger = logging.getLogger(__name__)

MIN_ENTRIES_FOR_OUTLIERS = 5
"""Below this many runs a robust z-score says nothing; nothing is flagged."""
OUTLIER_METRICS = ("value", "added_p99_ms", "cpu_mcores_per_1k_rps")
"""Normalized metrics whose robust z-score flags a run (any one beyond 3.5)."""
OUTLIER_MIN_RELATIVE = 0.10
"""A run is only an outlier when it is also this far (relative) from the row's median:
with few, tightly grouped runs the MAD is tiny and the z-score alone flags noise."""
SYNC_BATCH = 5000


class RowKey(NamedTuple):
    formula_version: str
    profile_id: str
    environment_class: str
    mesh_config_id: int
    complete: bool


def _entry_key(entry: LeaderboardEntry) -> RowKey:
    return RowKey(
        entry.formula_version,
        entry.profile_id,
        entry.environment_class,
        entry.mesh_config_id,
        entry.complete,
    )


def entries_sync(*, score_ids: Iterable[int]) -> set[RowKey]:
    """Create or update the entries of these scores; returns the rows they touch."""
    scores = (
        Score.objects.filter(pk__in=list(score_ids), score__isnull=False)
        .select_related(
            "result__profile", "result__environment", "result__organization", "result__submission"
        )
        .only(
            "score",
            "formula_version",
            "classes",
            "added_p99_ms",
            "cpu_mcores_per_1k_rps",
            "mem_mb_per_proxy",
            "normalized",
            "result__created_at",
            "result__is_listed",
            "result__mesh_config_id",
            "result__submission_id",
            "result__profile__id",
            "result__profile__version",
            "result__profile__protocol",
            "result__environment__id",
            "result__environment__environment_class",
            "result__environment__kubernetes_version",
            "result__organization__id",
            "result__organization__is_listed",
            "result__submission__status",
        )
    )
    entries = []
    for score in scores:
        result = score.result
        assert score.score is not None
        entries.append(
            LeaderboardEntry(
                score=score,
                result=result,
                formula_version=score.formula_version,
                profile_id=result.profile.id,
                profile_version=result.profile.version,
                protocol=result.profile.protocol,
                environment_class=result.environment.environment_class,
                mesh_config_id=result.mesh_config_id,
                complete=all(v is not None for v in score.classes.values()),
                organization_id=result.organization.id,
                environment_id=result.environment.id,
                submission_id=result.submission_id,
                kubernetes_version=result.environment.kubernetes_version,
                value=score.score,
                added_p99_ms=score.added_p99_ms,
                cpu_mcores_per_1k_rps=score.cpu_mcores_per_1k_rps,
                mem_mb_per_proxy=score.mem_mb_per_proxy,
                normalized=score.normalized,
                listed=(
                    result.is_listed
                    and result.organization.is_listed
                    and result.submission.status == "accepted"
                ),
                created_at=result.created_at,
            )
        )
    old_keys = {
        _entry_key(e) for e in LeaderboardEntry.objects.filter(score__in=[e.score for e in entries])
    }
    LeaderboardEntry.objects.bulk_create(
        entries,
        update_conflicts=True,
        unique_fields=["score"],
        update_fields=[
            f.name
            for f in LeaderboardEntry._meta.concrete_fields
            if f.name not in ("id", "score", "is_outlier")
        ],
    )
    return old_keys | {_entry_key(e) for e in entries}


def _median_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.median(present)) if present else None


def row_values(entries: list[LeaderboardEntry]) -> tuple[dict[str, Any] | None, list[int]]:
    """Aggregate of one row's listed entries, and the ids of the entries flagged as outliers.

    Outliers: robust z-score (median/MAD, |z| > 3.5) of the score, the added p99
    or the CPU per 1k rps within the row, and at least OUTLIER_MIN_RELATIVE away
    from the row's median, once the row has MIN_ENTRIES_FOR_OUTLIERS runs. They
    are left out of every figure but counted.
    """
    if not entries:
        return None, []
    flagged = np.zeros(len(entries), dtype=bool)
    if len(entries) >= MIN_ENTRIES_FOR_OUTLIERS:
        for metric in OUTLIER_METRICS:
            column = [getattr(e, metric) for e in entries]
            metric_values = np.array([np.nan if v is None else v for v in column], dtype=np.float64)
            if np.all(np.isnan(metric_values)):
                continue
            centre = float(np.nanmedian(metric_values))
            with np.errstate(invalid="ignore"):
                far = np.abs(metric_values - centre) > OUTLIER_MIN_RELATIVE * abs(centre)
            flagged |= outlier_mask(metric_values) & far
    kept = [e for e, out in zip(entries, flagged, strict=True) if not out]
    median, low, high = bootstrap_ci([e.value for e in kept])
    values = {
        "profile_version": kept[0].profile_version,
        "protocol": kept[0].protocol,
        "results": len(kept),
        "submissions": len({e.submission_id for e in kept}),
        "organizations": len({e.organization_id for e in kept}),
        "environments": len({e.environment_id for e in kept}),
        "outliers": int(flagged.sum()),
        "median": median,
        "ci_low": low,
        "ci_high": high,
        "added_p99_ms": _median_of([e.added_p99_ms for e in kept]),
        "cpu_mcores_per_1k_rps": _median_of([e.cpu_mcores_per_1k_rps for e in kept]),
        "mem_mb_per_proxy": _median_of([e.mem_mb_per_proxy for e in kept]),
        "normalized": all(e.normalized for e in kept),
        "first_at": min(e.created_at for e in kept),
        "last_at": max(e.created_at for e in kept),
    }
    return values, [e.pk for e, out in zip(entries, flagged, strict=True) if out]


def rows_refresh(*, keys: Iterable[RowKey]) -> int:
    """Recompute the rows of these keys from their entries; returns how many rows exist after."""
    kept = 0
    for key in sorted(set(keys)):
        entries = list(
            LeaderboardEntry.objects.filter(
                formula_version=key.formula_version,
                profile_id=key.profile_id,
                environment_class=key.environment_class,
                mesh_config_id=key.mesh_config_id,
                complete=key.complete,
                listed=True,
            ).order_by("pk")
        )
        values, outliers = row_values(entries)
        ids = [e.pk for e in entries]
        LeaderboardEntry.objects.filter(pk__in=ids).exclude(pk__in=outliers).update(
            is_outlier=False
        )
        if outliers:
            LeaderboardEntry.objects.filter(pk__in=outliers).update(is_outlier=True)
        lookup: dict[str, Any] = {
            "formula_version": key.formula_version,
            "profile_id": key.profile_id,
            "environment_class": key.environment_class,
            "mesh_config_id": key.mesh_config_id,
            "complete": key.complete,
        }
        if values is None:
            LeaderboardRow.objects.filter(**lookup).delete()
            continue
        LeaderboardRow.objects.update_or_create(**lookup, defaults=values)
        kept += 1
    return kept


def leaderboards_update(*, score_ids: Iterable[int]) -> None:
    """Incremental update after scores were written (a submission was accepted)."""
    rows_refresh(keys=entries_sync(score_ids=score_ids))


def leaderboards_update_for_results(*, result_ids: Iterable[int]) -> None:
    """After moderation changed whether these results are listed."""
    ids = Score.objects.filter(
        result_id__in=list(result_ids), formula_version=FORMULA_VERSION
    ).values_list("pk", flat=True)
    leaderboards_update(score_ids=ids)


def leaderboards_rebuild(*, version: str = FORMULA_VERSION) -> int:
    """Rebuild every entry and row of ``version`` from the scores; returns the row count."""
    keys: set[RowKey] = set()
    ids = list(
        Score.objects.filter(formula_version=version, score__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), SYNC_BATCH):
        with transaction.atomic():
            keys |= entries_sync(score_ids=ids[start : start + SYNC_BATCH])
    stale = LeaderboardEntry.objects.filter(formula_version=version).exclude(score_id__in=ids)
    for entry in stale:
        keys.add(_entry_key(entry))
    stale.delete()
    keys |= {
        RowKey(r.formula_version, r.profile_id, r.environment_class, r.mesh_config_id, r.complete)
        for r in LeaderboardRow.objects.filter(formula_version=version)
    }
    with transaction.atomic():
        return rows_refresh(keys=keys)
