"""Presentation helpers for the pages: sorting, labels, chart data, plain-words statistics.

Pure functions over selector rows and model instances; the views stay thin.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import markdown
from django.conf import settings

from ingest.models import Environment, Result, Score
from meshmark import selectors
from scoring import NORMALIZED_LABEL, REFERENCE_PROBE, REFERENCE_SCORE
from scoring.engine import CLASSES
from scoring.normalize import RAW_LABEL

SORT_COLUMNS = (
    "rank",
    "label",
    *(f for f in selectors.VALUE_FIELDS if f not in ("ci_low", "ci_high", "normalized")),
)
LATENCY_POINTS = (
    ("p50", "p50_ms"),
    ("p90", "p90_ms"),
    ("p95", "p95_ms"),
    ("p99", "p99_ms"),
    ("p99.9", "p999_ms"),
)
METHODOLOGY_DOC = Path(settings.BASE_DIR) / "docs" / "meshmark.md"


def figures_label(normalized: bool) -> str:
    return NORMALIZED_LABEL if normalized else RAW_LABEL


def sort_key(column: str) -> Any:
    def key(row: selectors.Row) -> tuple[bool, Any]:
        value = row.label.lower() if column == "label" else getattr(row, column)
        return (value is None, value if value is not None else 0)

    return key


def sorted_rows(rows: list[selectors.Row], sort: str) -> tuple[list[selectors.Row], str, bool]:
    """Rows ordered by ``sort`` (``median``, ``-median``, …); unknown columns fall back to rank.

    Missing figures go last in either direction.
    """
    descending = sort.startswith("-")
    column = sort.lstrip("-")
    if column not in SORT_COLUMNS:
        return rows, "rank", False
    present = [r for r in rows if getattr(r, column, "") is not None]
    absent = [r for r in rows if getattr(r, column, "") is None]
    ordered = sorted(present, key=sort_key(column), reverse=descending)
    return ordered + absent, column, descending


def rank_label(row: selectors.Row) -> str:
    if row.rank is None:
        return "—"  # one run: not ranked
    return f"={row.rank}" if row.tied else str(row.rank)


def board_chart(rows: Iterable[selectors.Row]) -> dict[str, Any]:
    rows = list(rows)
    return {
        "ranks": [rank_label(r) for r in rows],
        "labels": [r.label for r in rows],
        "median": [r.median for r in rows],
        "low": [r.ci_low for r in rows],
        "high": [r.ci_high for r in rows],
        "n": [r.results for r in rows],
    }


def breakdown(score: Score) -> list[dict[str, Any]]:
    missing = set(score.missing)
    return [
        {
            "name": cls,
            "value": score.classes.get(cls),
            "mues": [
                {"name": mue, "value": score.mues.get(mue), "missing": mue in missing}
                for mue in members
            ],
        }
        for cls, members in CLASSES.items()
    ]


def histogram_points(buckets: list[dict[str, Any]]) -> list[dict[str, float]]:
    """A run's buckets as a step line: share of requests per ms (%), so area = share.

    Buckets may differ in width (fortio's grow with latency); dividing by the
    width keeps a wide tail bucket from looking like a peak. Gaps fall to 0.
    """
    valid = [b for b in buckets if b.get("end_ms", 0) > b.get("start_ms", 0)]
    total = sum(b["count"] for b in valid)
    if total <= 0:
        return []
    points: list[dict[str, float]] = []
    previous_end: float | None = None
    for bucket in valid:
        start, end = float(bucket["start_ms"]), float(bucket["end_ms"])
        if previous_end is None or start > previous_end:
            if previous_end is not None:
                points.append({"x": previous_end, "y": 0.0})
            points.append({"x": start, "y": 0.0})
        points.append({"x": start, "y": 100.0 * bucket["count"] / total / (end - start)})
        previous_end = end
    assert previous_end is not None
    points.append({"x": previous_end, "y": 0.0})
    return points


def resources(result: Result, baseline: Result | None) -> list[dict[str, Any]]:
    rows = [
        ("Sidecar proxies", "sidecar_count", "", 0),
        ("Sidecars CPU", "sidecar_cpu_mcores", "mCores", 0),
        ("Sidecars memory", "sidecar_mem_mb", "MiB", 1),
        ("Gateways CPU", "gateway_cpu_mcores", "mCores", 0),
        ("Gateways memory", "gateway_mem_mb", "MiB", 1),
        ("Control plane CPU", "control_plane_cpu_mcores", "mCores", 0),
        ("Control plane memory", "control_plane_mem_mb", "MiB", 1),
        ("Application CPU", "app_cpu_mcores", "mCores", 0),
        ("Application memory", "app_mem_mb", "MiB", 1),
    ]
    return [
        {
            "label": label,
            "unit": unit,
            "digits": digits,
            "run": getattr(result, field),
            "baseline": getattr(baseline, field) if baseline else None,
        }
        for label, field, unit, digits in rows
    ]


def latencies(result: Result, baseline: Result | None) -> list[dict[str, Any]]:
    points = [
        ("min", "latency_min_ms"),
        ("average", "latency_avg_ms"),
        *LATENCY_POINTS,
        ("max", "latency_max_ms"),
    ]
    return [
        {
            "label": label,
            "run": getattr(result, field),
            "baseline": getattr(baseline, field) if baseline else None,
        }
        for label, field in points
    ]


def cliffs_delta_words(delta: float, a: str, b: str) -> str:
    """Cliff's delta in plain words (magnitudes after Romano et al., 2006)."""
    size = abs(delta)
    if size < 0.147:
        magnitude = "negligible"
    elif size < 0.33:
        magnitude = "small"
    elif size < 0.474:
        magnitude = "medium"
    else:
        magnitude = "large"
    winner, loser = (a, b) if delta >= 0 else (b, a)
    share = (1 + size) / 2 * 100
    return (
        f"{magnitude.capitalize()} effect: a run of {winner} scores higher than a run of "
        f"{loser} {share:.0f}% of the time (ties counted as half)."
    )


def p_value_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def calibration_factor(environment: Environment) -> float | None:
    """The environment's factor to the reference machine, or None (docs/meshmark.md §7)."""
    score = environment.calibration_score
    if environment.calibration_probe != REFERENCE_PROBE or score is None:
        return None
    if not math.isfinite(score) or score <= 0:
        return None
    return score / REFERENCE_SCORE


@functools.lru_cache(maxsize=2)
def render_markdown(path: str, mtime: float) -> str:
    """docs/meshmark.md as HTML; keyed on the file's mtime so an edited doc is re-rendered."""
    text = Path(path).read_text(encoding="utf-8")
    return markdown.markdown(text, extensions=["tables", "fenced_code", "toc"])


def methodology_html(path: Path = METHODOLOGY_DOC) -> str:
    return render_markdown(str(path), path.stat().st_mtime)
