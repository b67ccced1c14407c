"""Scoring accepted results and keeping scores current.

Scores are computed from the Result columns in batches through the vectorized
engine (:func:`scoring.score_arrays`), so scoring one submission and
re-scoring a million results go through the same code.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.db import transaction

from ingest import leaderboards
from ingest.models import Result, Score
from ingest.normalize import RESOURCE_COLUMNS
from scoring import FORMULA_VERSION, PairArrays, score_arrays
from scoring.normalize import (
    REFERENCE_PROBE,
    REFERENCE_SCORE,
    added_p99_ms,
    cpu_per_1k_rps,
    mem_per_proxy,
)
from smp.profiles import CAPACITY

logger = logging.getLogger(__name__)

RESCORE_BATCH = 2000
"""Mesh results scored per query and transaction when (re)scoring in bulk."""

_LATENCIES = ("p50", "p90", "p99", "p999")
_COLUMNS = (
    "pk",
    *(f"{p}_ms" for p in _LATENCIES),
    *(f"baseline__{p}_ms" for p in _LATENCIES),
    "actual_qps",
    "baseline__actual_qps",
    "requested_qps",
    "baseline__requested_qps",
    "error_rate",
    "baseline__error_rate",
    *(f"ok_{p}_ms" for p in _LATENCIES),
    *(f"baseline__ok_{p}_ms" for p in _LATENCIES),
    "ok_count",
    "baseline__ok_count",
    "profile__error_budget",
    *RESOURCE_COLUMNS,
    "calibration_score",
    "environment__calibration_probe",
)


def _column(rows: Sequence[dict[str, Any]], key: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=np.float64)


def _sum_present(*columns: np.ndarray[Any, np.dtype[np.float64]]) -> Any:
    """Element-wise sum ignoring NaN, NaN where every column is NaN (docs/meshmark.md)."""
    stacked = np.vstack(columns)
    total = np.nansum(stacked, axis=0)
    return np.where(np.all(np.isnan(stacked), axis=0), np.nan, total)


def pair_arrays(rows: Sequence[dict[str, Any]]) -> PairArrays:
    """Scoring inputs from Result rows (``values(*_COLUMNS)`` of mesh runs)."""
    col = {key: _column(rows, key) for key in _COLUMNS[1:-1]}
    requested = np.where(
        np.isnan(col["requested_qps"]), col["baseline__requested_qps"], col["requested_qps"]
    )
    return PairArrays.from_columns(
        {
            **{f"mesh_{p}": col[f"{p}_ms"] for p in _LATENCIES},
            **{f"baseline_{p}": col[f"baseline__{p}_ms"] for p in _LATENCIES},
            **{f"mesh_ok_{p}": col[f"ok_{p}_ms"] for p in _LATENCIES},
            **{f"baseline_ok_{p}": col[f"baseline__ok_{p}_ms"] for p in _LATENCIES},
            "mesh_ok_count": col["ok_count"],
            "baseline_ok_count": col["baseline__ok_count"],
            "error_budget": col["profile__error_budget"],
            "baseline_qps": col["baseline__actual_qps"],
            "mesh_qps": col["actual_qps"],
            "requested_qps": requested,
            "mesh_error_rate": col["error_rate"],
            "baseline_error_rate": col["baseline__error_rate"],
            "mesh_cpu_mcores": _sum_present(
                col["sidecar_cpu_mcores"],
                col["gateway_cpu_mcores"],
                col["control_plane_cpu_mcores"],
            ),
            "app_cpu_mcores": col["app_cpu_mcores"],
            "mesh_mem_mb": _sum_present(
                col["sidecar_mem_mb"], col["gateway_mem_mb"], col["control_plane_mem_mb"]
            ),
            "app_mem_mb": col["app_mem_mb"],
        },
        n=len(rows),
    )


def _factors(rows: Sequence[dict[str, Any]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Calibration factor per row; NaN when the probe is not the reference one."""
    return np.array(
        [
            r["calibration_score"] / REFERENCE_SCORE
            if r["calibration_score"] and r["environment__calibration_probe"] == REFERENCE_PROBE
            else np.nan
            for r in rows
        ],
        dtype=np.float64,
    )


def _optional(value: float) -> float | None:
    """A figure to store: None when missing, or when not finite (JSON has no infinity)."""
    return float(value) if math.isfinite(value) else None


def results_score(*, result_ids: Sequence[int], version: str = FORMULA_VERSION) -> int:
    """Score these mesh results (those with a baseline), store one Score each, and
    sync their leaderboard entries (rows are refreshed once the caller commits:
    :func:`ingest.leaderboards.rows_refresh_pending`).

    Re-running replaces the scores of the same version (upsert), so it is safe
    to repeat. Returns how many scores were written.
    """
    if version != FORMULA_VERSION:
        raise ValueError(f"this code computes {FORMULA_VERSION}, not {version}")
    rows = list(
        Result.objects.filter(pk__in=result_ids, role=Result.Role.MESH, baseline__isnull=False)
        # A capacity search is not a fixed-rate pair: it is shown as the capacity kept
        # (meshmark/capacity.py), never as a MeshMark.
        .exclude(profile__kind=CAPACITY)
        .values(*_COLUMNS)
    )
    if not rows:
        return 0
    pairs = pair_arrays(rows)
    scored = score_arrays(pairs)
    factors = _factors(rows)
    scale = np.where(np.isnan(factors), 1.0, factors)
    cpu = cpu_per_1k_rps(pairs.mesh_cpu_mcores, pairs.mesh_qps, scale)
    mem = mem_per_proxy(_column(rows, "sidecar_mem_mb"), _column(rows, "sidecar_count"))
    added = added_p99_ms(pairs.baseline_p99, pairs.mesh_p99, scale)
    objects = []
    for i, row in enumerate(rows):
        breakdown = scored.row(i)
        objects.append(
            Score(
                result_id=row["pk"],
                formula_version=version,
                score=breakdown.score,
                partial=breakdown.partial,
                mue_mask=breakdown.mue_mask,
                classes=breakdown.classes,
                mues=breakdown.mues,
                missing=breakdown.missing,
                cpu_mcores_per_1k_rps=_optional(cpu[i]),
                mem_mb_per_proxy=_optional(mem[i]),
                added_p99_ms=_optional(added[i]),
                calibration_factor=_optional(factors[i]),
                normalized=not math.isnan(factors[i]),
            )
        )
    Score.objects.bulk_create(
        objects,
        update_conflicts=True,
        unique_fields=["result", "formula_version"],
        update_fields=[
            "score",
            "partial",
            "mue_mask",
            "classes",
            "mues",
            "missing",
            "cpu_mcores_per_1k_rps",
            "mem_mb_per_proxy",
            "added_p99_ms",
            "calibration_factor",
            "normalized",
        ],
    )
    score_ids = Score.objects.filter(
        result_id__in=[row["pk"] for row in rows], formula_version=version
    ).values_list("pk", flat=True)
    leaderboards.leaderboards_update(score_ids=score_ids)
    return len(objects)


def submissions_score(*, submission_ids: Sequence[Any]) -> int:
    """Score the mesh runs of just-accepted submissions (inside their transaction)."""
    ids = list(
        Result.objects.filter(
            submission__in=list(submission_ids), role=Result.Role.MESH
        ).values_list("pk", flat=True)
    )
    return results_score(result_ids=ids)


def scores_missing(*, version: str = FORMULA_VERSION, after_id: int = 0, limit: int) -> list[int]:
    """Ids of scorable mesh results with no score of ``version``, in id order."""
    return list(
        Result.objects.filter(role=Result.Role.MESH, baseline__isnull=False, pk__gt=after_id)
        .exclude(scores__formula_version=version)
        .exclude(profile__kind=CAPACITY)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def scores_backfill_batch(
    *, version: str = FORMULA_VERSION, after_id: int = 0, batch_size: int = RESCORE_BATCH
) -> tuple[int, int] | None:
    """Score one batch of results that lack a score of ``version``.

    Returns (last id handled, how many were scored), or None when nothing is
    left; the next batch starts after that id. Resumable: whatever a previous
    run committed is not redone.
    """
    ids = scores_missing(version=version, after_id=after_id, limit=batch_size)
    if not ids:
        return None
    with transaction.atomic():
        written = results_score(result_ids=ids, version=version)
    leaderboards.rows_refresh_pending()
    return ids[-1], written


def scores_backfill(*, version: str = FORMULA_VERSION, batch_size: int = RESCORE_BATCH) -> int:
    """Score every result that lacks a score of ``version``, batch by batch; returns the count."""
    total, after = 0, 0
    while batch := scores_backfill_batch(version=version, after_id=after, batch_size=batch_size):
        after, written = batch
        total += written
    return total
