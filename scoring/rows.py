"""The statistics of one leaderboard row: median with its bootstrap interval, outliers.

Pure NumPy over a row's entries, column by column (:class:`EntryColumns`); the
database side (which entries belong to a row, writing the row back) is in
:mod:`ingest.leaderboards`. The method is docs/meshmark.md, "Leaderboards".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.inputs import BoolArray, FloatArray
from scoring.stats import bootstrap_ci, outlier_mask

MIN_ENTRIES_FOR_OUTLIERS = 5
"""Below this many runs a robust z-score says nothing; nothing is flagged."""
OUTLIER_METRICS = ("value", "added_p99_ms", "cpu_mcores_per_1k_rps")
"""Normalized metrics whose robust z-score flags a run (any one beyond 3.5)."""
OUTLIER_MIN_RELATIVE = 0.10
"""A run is only an outlier when it is also this far (relative) from the row's median:
with few, tightly grouped runs the MAD is tiny and the z-score alone flags noise."""
ENTRY_COLUMNS = (
    "pk",
    "value",
    "added_p99_ms",
    "cpu_mcores_per_1k_rps",
    "mem_mb_per_proxy",
    "submission_id",
    "organization_id",
    "environment_id",
    "normalized",
    "created_at",
    "profile_version",
    "protocol",
    "is_outlier",
)
"""What aggregation reads of an entry, in this order (``values_list(*ENTRY_COLUMNS)``)."""


def _floats(values: Sequence[Any]) -> FloatArray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@dataclass
class EntryColumns:
    """A row's entries column by column: NumPy arrays for the figures, lists for the keys."""

    ids: list[int]
    value: FloatArray
    added_p99_ms: FloatArray
    cpu_mcores_per_1k_rps: FloatArray
    mem_mb_per_proxy: FloatArray
    submission_ids: list[Any]
    organization_ids: list[int]
    environment_ids: list[int]
    normalized: BoolArray
    created_at: list[Any]
    profile_version: list[int]
    protocol: list[str]
    is_outlier: BoolArray

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> EntryColumns:
        """From ``values_list(*ENTRY_COLUMNS)`` tuples."""
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(ENTRY_COLUMNS)
        return cls(
            ids=list(columns[0]),
            value=_floats(columns[1]),
            added_p99_ms=_floats(columns[2]),
            cpu_mcores_per_1k_rps=_floats(columns[3]),
            mem_mb_per_proxy=_floats(columns[4]),
            submission_ids=list(columns[5]),
            organization_ids=list(columns[6]),
            environment_ids=list(columns[7]),
            normalized=np.array(columns[8], dtype=np.bool_),
            created_at=list(columns[9]),
            profile_version=list(columns[10]),
            protocol=list(columns[11]),
            is_outlier=np.array(columns[12], dtype=np.bool_),
        )

    def __len__(self) -> int:
        return len(self.ids)


def _median_of(values: FloatArray) -> float | None:
    present = values[~np.isnan(values)]
    return float(np.median(present)) if present.size else None


def outliers_of(entries: EntryColumns) -> BoolArray:
    """Which entries of one row are outliers (see :func:`row_values`)."""
    flagged = np.zeros(len(entries), dtype=np.bool_)
    if len(entries) < MIN_ENTRIES_FOR_OUTLIERS:
        return flagged
    for metric in OUTLIER_METRICS:
        values: FloatArray = getattr(entries, metric)
        if np.all(np.isnan(values)):
            continue
        centre = float(np.nanmedian(values))
        with np.errstate(invalid="ignore"):
            far = np.abs(values - centre) > OUTLIER_MIN_RELATIVE * abs(centre)
        flagged |= outlier_mask(values) & far
    return flagged


def row_values(entries: EntryColumns) -> tuple[dict[str, Any] | None, BoolArray]:
    """Aggregate of one row's listed entries, and which entries are flagged as outliers.

    Outliers: robust z-score (median/MAD, |z| > 3.5) of the score, the added p99
    or the CPU per 1k rps within the row, and at least OUTLIER_MIN_RELATIVE away
    from the row's median, once the row has MIN_ENTRIES_FOR_OUTLIERS runs. They
    are left out of every figure but counted.
    """
    flagged = outliers_of(entries)
    if not len(entries):
        return None, flagged
    kept = ~flagged
    first = int(np.argmax(kept))
    median, low, high = bootstrap_ci(entries.value[kept])
    created = [c for c, keep in zip(entries.created_at, kept, strict=True) if keep]
    values = {
        "profile_version": entries.profile_version[first],
        "protocol": entries.protocol[first],
        "results": int(kept.sum()),
        "submissions": len(_kept(entries.submission_ids, kept)),
        "organizations": len(_kept(entries.organization_ids, kept)),
        "environments": len(_kept(entries.environment_ids, kept)),
        "outliers": int(flagged.sum()),
        "median": median,
        "ci_low": low,
        "ci_high": high,
        "added_p99_ms": _median_of(entries.added_p99_ms[kept]),
        "cpu_mcores_per_1k_rps": _median_of(entries.cpu_mcores_per_1k_rps[kept]),
        "mem_mb_per_proxy": _median_of(entries.mem_mb_per_proxy[kept]),
        "normalized": bool(np.all(entries.normalized[kept])),
        "first_at": min(created),
        "last_at": max(created),
    }
    return values, flagged


def _kept(ids: list[Any], kept: BoolArray) -> set[Any]:
    return {i for i, keep in zip(ids, kept, strict=True) if keep}
