"""MeshMark, every version of docs/meshmark.md, vectorized over pairs.

A mesh run is scored against its paired baseline run. Each MUE (MeshMark
Utilization Efficiency) is a number in [0, 1] where 1 means "no overhead";
each class is the weighted mean of its present MUEs; the score is 100 times
the weighted mean of the present classes. The latency class is mandatory.

A :class:`Formula` is one version: its classes and how each MUE is computed.
``meshmark-2`` (:data:`MESHMARK_2`) is current; ``meshmark-1``
(:data:`MESHMARK_1`) stays so that its stored scores can be reproduced.
Both entry points share one implementation: :func:`score_pair` builds a
one-row :class:`PairArrays` and calls :func:`score_arrays`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.inputs import (
    BoolArray,
    FloatArray,
    PairArrays,
    pair_arrays_from_results,
    pair_row,
)
from smp.model import EnvironmentConfig, PerformanceTestResult, ServiceMeshConfig

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "CURRENT",
    "DEFAULT_WEIGHTS",
    "FORMULAS",
    "FORMULA_VERSION",
    "MANDATORY_MUES",
    "MESHMARK_1",
    "MESHMARK_2",
    "MUE_NAMES",
    "WEIGHT_BOUND",
    "Formula",
    "PairArrays",
    "Score",
    "ScoreArrays",
    "Weights",
    "pair_arrays_from_results",
    "score_arrays",
    "score_pair",
]

CLASSES_1: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "latency": ("latency_p50", "latency_p90", "latency_p99", "latency_p999"),
        "throughput": ("throughput_vs_requested", "throughput_vs_baseline", "success_vs_baseline"),
        "cpu": ("cpu_app_share",),
        "memory": ("memory_app_share",),
    }
)
"""meshmark-1's utilization classes and their MUEs, in the order of docs/meshmark.md."""

CLASSES_2: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "latency": ("latency_p50", "latency_p90", "latency_p99", "latency_p999"),
        "throughput": ("throughput_vs_requested", "throughput_vs_baseline"),
        "errors": ("errors_within_budget",),
        "cpu": ("cpu_app_share",),
        "memory": ("memory_app_share",),
    }
)
"""meshmark-2's classes: errors become a class of their own, spending the profile's budget."""

MANDATORY_MUES: tuple[str, ...] = ("latency_p50", "latency_p99")
"""A pair is scorable only with both: the median and the tail are what MeshMark is about."""

MIN_TAIL_SAMPLES = 50
"""meshmark-2: a percentile enters the score only when both runs hold at least this many
successful requests beyond it (p99.9 needs 50,000 successful requests)."""

ALL_CLASS_NAMES: tuple[str, ...] = tuple(dict.fromkeys([*CLASSES_1, *CLASSES_2]))
ALL_MUE_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(name for classes in (CLASSES_1, CLASSES_2) for mues in classes.values()
                  for name in mues)
)  # fmt: skip
"""Names a weight may adjust: those of any version (a version ignores the others)."""

WEIGHT_BOUND = 0.5
"""Each weight is ``1 + w`` with ``-WEIGHT_BOUND <= w <= WEIGHT_BOUND``."""


@dataclass(frozen=True)
class Weights:
    """Weight adjustments ``w`` per MUE and per class; the weight used is ``1 + w``.

    Names not given have ``w = 0`` (the meshmark-1 defaults: equal weights).
    Each ``w`` must be finite and within ``[-0.5, +0.5]``; a bad or unknown
    name raises ``ValueError`` naming it.
    """

    mues: Mapping[str, float] = field(default_factory=dict)
    classes: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, given, known in (
            ("MUE", self.mues, ALL_MUE_NAMES),
            ("class", self.classes, ALL_CLASS_NAMES),
        ):
            for name, w in given.items():
                if name not in known:
                    raise ValueError(f"unknown {kind} weight {name!r}; known: {', '.join(known)}")
                if not isinstance(w, (int, float)) or not math.isfinite(w):
                    raise ValueError(f"{kind} weight {name!r} must be a finite number, got {w!r}")
                if not -WEIGHT_BOUND <= w <= WEIGHT_BOUND:
                    raise ValueError(
                        f"{kind} weight {name!r} adjustment {w} is outside "
                        f"[-{WEIGHT_BOUND}, +{WEIGHT_BOUND}]"
                    )
        object.__setattr__(self, "mues", MappingProxyType(dict(self.mues)))
        object.__setattr__(self, "classes", MappingProxyType(dict(self.classes)))

    def mue_weight(self, name: str) -> float:
        return 1.0 + float(self.mues.get(name, 0.0))

    def class_weight(self, name: str) -> float:
        return 1.0 + float(self.classes.get(name, 0.0))

    @property
    def is_default(self) -> bool:
        return not any(self.mues.values()) and not any(self.classes.values())

    def to_dict(self) -> dict[str, dict[str, float]]:
        """The non-zero adjustments (empty dicts = the defaults)."""
        return {
            "mues": {k: float(v) for k, v in self.mues.items() if v},
            "classes": {k: float(v) for k, v in self.classes.items() if v},
        }


DEFAULT_WEIGHTS = Weights()


def _ratio_mue(numerator: FloatArray, denominator: FloatArray, *, zero_ok: bool) -> FloatArray:
    """clip(numerator / denominator, 0, 1); NaN unless both are finite and valid.

    Valid: denominator > 0 and numerator > 0 (``zero_ok``: numerator >= 0).
    """
    valid = np.isfinite(numerator) & np.isfinite(denominator) & (denominator > 0)
    valid &= (numerator >= 0) if zero_ok else (numerator > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(valid, numerator / denominator, np.nan)
    return np.clip(ratio, 0.0, 1.0)


def _share_mue(mesh: FloatArray, app: FloatArray) -> FloatArray:
    """1 - mesh / (mesh + app) = app / (mesh + app); NaN unless both >= 0 and sum > 0.

    Written as ``app / (mesh + app)`` so that mesh = 0 gives exactly 1 and the
    value is exactly non-increasing in ``mesh`` in floating point.
    """
    total = mesh + app
    valid = np.isfinite(mesh) & np.isfinite(app) & (mesh >= 0) & (app >= 0) & (total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(valid, app / total, np.nan)


def _success_mue(mesh_error_rate: FloatArray, baseline_error_rate: FloatArray) -> FloatArray:
    """clip((1 - e_mesh) / (1 - e_baseline), 0, 1), rates clipped to [0, 1].

    A missing (NaN or infinite) mesh rate makes the MUE missing. A missing
    baseline rate counts as 0 (the conservative reading: no baseline errors are
    credited). A baseline that failed every request (e_baseline = 1) gives no
    reference: NaN.
    """
    e_mesh = np.clip(mesh_error_rate, 0.0, 1.0)
    known_base = np.isfinite(baseline_error_rate)
    e_base = np.where(known_base, np.clip(baseline_error_rate, 0.0, 1.0), 0.0)
    valid = np.isfinite(mesh_error_rate) & (e_base < 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(valid, (1.0 - e_mesh) / (1.0 - e_base), np.nan)
    return np.clip(ratio, 0.0, 1.0)


MUE_FORMULAS_1: Mapping[str, Callable[[PairArrays], FloatArray]] = MappingProxyType(
    {
        "latency_p50": lambda p: _ratio_mue(p.baseline_p50, p.mesh_p50, zero_ok=False),
        "latency_p90": lambda p: _ratio_mue(p.baseline_p90, p.mesh_p90, zero_ok=False),
        "latency_p99": lambda p: _ratio_mue(p.baseline_p99, p.mesh_p99, zero_ok=False),
        "latency_p999": lambda p: _ratio_mue(p.baseline_p999, p.mesh_p999, zero_ok=False),
        "throughput_vs_requested": lambda p: _ratio_mue(p.mesh_qps, p.requested_qps, zero_ok=True),
        "throughput_vs_baseline": lambda p: _ratio_mue(p.mesh_qps, p.baseline_qps, zero_ok=True),
        "success_vs_baseline": lambda p: _success_mue(p.mesh_error_rate, p.baseline_error_rate),
        "cpu_app_share": lambda p: _share_mue(p.mesh_cpu_mcores, p.app_cpu_mcores),
        "memory_app_share": lambda p: _share_mue(p.mesh_mem_mb, p.app_mem_mb),
    }
)
"""meshmark-1: each MUE as a function of the input columns (docs/meshmark.md, "MUEs")."""


def _enough_beyond(count: FloatArray, quantile: float) -> BoolArray:
    """True where ``count`` successful requests put at least MIN_TAIL_SAMPLES beyond
    ``quantile`` (NaN counts: False)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(count) & (count * (1.0 - quantile) >= MIN_TAIL_SAMPLES - 1e-9)


def _ok_latency_mue(p: PairArrays, percentile: str, quantile: float) -> FloatArray:
    """meshmark-2's latency MUE: baseline / mesh latency of the successful requests, when
    both runs hold enough successful requests beyond the percentile; else NaN."""
    ratio = _ratio_mue(
        getattr(p, f"baseline_ok_{percentile}"), getattr(p, f"mesh_ok_{percentile}"), zero_ok=False
    )
    enough = _enough_beyond(p.baseline_ok_count, quantile) & _enough_beyond(
        p.mesh_ok_count, quantile
    )
    return np.where(enough, ratio, np.nan)


def _budget_mue(
    mesh_error_rate: FloatArray, baseline_error_rate: FloatArray, budget: FloatArray
) -> FloatArray:
    """clip(1 - max(e_mesh - e_baseline, 0) / budget, 0, 1): 1 when the mesh adds no
    errors, 0 when it adds the profile's whole budget or more.

    Rates clipped to [0, 1]; a missing baseline rate counts as 0 (no baseline
    errors are credited); a missing mesh rate or budget (or a budget <= 0) makes
    the MUE missing.
    """
    e_mesh = np.clip(mesh_error_rate, 0.0, 1.0)
    e_base = np.where(np.isfinite(baseline_error_rate), np.clip(baseline_error_rate, 0.0, 1.0), 0.0)
    valid = np.isfinite(mesh_error_rate) & np.isfinite(budget) & (budget > 0)
    added = np.maximum(e_mesh - e_base, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mue = np.where(valid, 1.0 - added / budget, np.nan)
    return np.clip(mue, 0.0, 1.0)


MUE_FORMULAS_2: Mapping[str, Callable[[PairArrays], FloatArray]] = MappingProxyType(
    {
        "latency_p50": lambda p: _ok_latency_mue(p, "p50", 0.5),
        "latency_p90": lambda p: _ok_latency_mue(p, "p90", 0.9),
        "latency_p99": lambda p: _ok_latency_mue(p, "p99", 0.99),
        "latency_p999": lambda p: _ok_latency_mue(p, "p999", 0.999),
        "throughput_vs_requested": MUE_FORMULAS_1["throughput_vs_requested"],
        "throughput_vs_baseline": MUE_FORMULAS_1["throughput_vs_baseline"],
        "errors_within_budget": lambda p: _budget_mue(
            p.mesh_error_rate, p.baseline_error_rate, p.error_budget
        ),
        "cpu_app_share": MUE_FORMULAS_1["cpu_app_share"],
        "memory_app_share": MUE_FORMULAS_1["memory_app_share"],
    }
)
"""meshmark-2: latencies of successful requests with enough samples, errors against the
profile's budget (docs/meshmark.md, "MeshMark 2")."""


@dataclass(frozen=True)
class Formula:
    """One version of MeshMark: its classes (with their MUEs) and each MUE's formula."""

    version: str
    classes: Mapping[str, tuple[str, ...]]
    mue_formulas: Mapping[str, Callable[[PairArrays], FloatArray]]

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.classes)

    @property
    def mue_names(self) -> tuple[str, ...]:
        return tuple(name for mues in self.classes.values() for name in mues)


MESHMARK_1 = Formula("meshmark-1", CLASSES_1, MUE_FORMULAS_1)
MESHMARK_2 = Formula("meshmark-2", CLASSES_2, MUE_FORMULAS_2)
FORMULAS: Mapping[str, Formula] = MappingProxyType({f.version: f for f in (MESHMARK_1, MESHMARK_2)})
CURRENT = MESHMARK_2
"""The version the index computes for new results (docs/meshmark.md, "Version")."""

FORMULA_VERSION = CURRENT.version
"""Stored with every score. Any change that can change a stored number bumps it."""
CLASSES = CURRENT.classes
CLASS_NAMES: tuple[str, ...] = CURRENT.class_names
MUE_NAMES: tuple[str, ...] = CURRENT.mue_names
MUE_FORMULAS = CURRENT.mue_formulas


def _weighted_mean(columns: list[FloatArray], weights: list[float], n: int) -> FloatArray:
    """Row-wise weighted mean of the non-NaN entries; NaN where none is present.

    The weights of absent entries are left out of the denominator (renormalized).
    """
    numerator = np.zeros(n)
    denominator = np.zeros(n)
    for column, weight in zip(columns, weights, strict=True):
        present = ~np.isnan(column)
        numerator += np.where(present, weight * column, 0.0)
        denominator += np.where(present, weight, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


@dataclass(frozen=True)
class ScoreArrays:
    """Scores of many pairs, with their breakdown (all arrays have one entry per row).

    ``score``: 0..100, NaN when not scorable. ``classes`` / ``mues``: 0..1, NaN
    when absent. ``class_mask``: bit ``i`` set when ``CLASS_NAMES[i]`` is present.
    ``mue_mask``: bit ``i`` set when ``MUE_NAMES[i]`` is present; scores are
    comparable only between rows with equal ``mue_mask``. ``partial``: scorable
    but at least one class absent.
    """

    version: str
    score: FloatArray
    classes: Mapping[str, FloatArray]
    mues: Mapping[str, FloatArray]
    class_mask: npt.NDArray[np.uint8]
    mue_mask: npt.NDArray[np.uint16]
    partial: BoolArray
    weights: Weights = DEFAULT_WEIGHTS

    @property
    def scorable(self) -> BoolArray:
        return ~np.isnan(self.score)

    def __len__(self) -> int:
        return int(self.score.shape[0])

    def row(self, i: int) -> Score:
        """Row ``i`` as a :class:`Score`."""
        mues = {name: _optional(values[i]) for name, values in self.mues.items()}
        return Score(
            version=self.version,
            score=_optional(self.score[i]),
            classes={name: _optional(values[i]) for name, values in self.classes.items()},
            mues=mues,
            missing=[name for name, value in mues.items() if value is None],
            partial=bool(self.partial[i]),
            mue_mask=int(self.mue_mask[i]),
            weights=self.weights,
        )


def _optional(value: np.float64) -> float | None:
    return None if np.isnan(value) else float(value)


def score_arrays(
    pairs: PairArrays, weights: Weights = DEFAULT_WEIGHTS, formula: Formula = CURRENT
) -> ScoreArrays:
    """Score every row of ``pairs`` with ``formula`` (the current version by default).

    Method: each MUE by the formula's ``mue_formulas``; each class the weighted mean of
    its present MUEs (weights ``1 + w``, renormalized over the present ones);
    the score 100 times the weighted mean of the present classes. Rows without
    both :data:`MANDATORY_MUES` get NaN. Pure, row-independent and deterministic: row
    ``i`` of the result depends only on row ``i`` of the input.
    Units: inputs as in :class:`PairArrays`; output 0..100 (float64).
    """
    n = len(pairs)
    class_names, mue_names = formula.class_names, formula.mue_names
    mues = {name: formula.mue_formulas[name](pairs) for name in mue_names}
    classes = {
        cls: _weighted_mean(
            [mues[name] for name in members], [weights.mue_weight(name) for name in members], n
        )
        for cls, members in formula.classes.items()
    }
    overall = _weighted_mean(
        [classes[cls] for cls in class_names], [weights.class_weight(cls) for cls in class_names], n
    )
    scorable = np.ones(n, dtype=np.bool_)
    for name in MANDATORY_MUES:
        scorable &= ~np.isnan(mues[name])
    score = np.where(scorable, 100.0 * overall, np.nan)
    class_mask = np.zeros(n, dtype=np.uint8)
    for bit, cls in enumerate(class_names):
        class_mask |= np.where(np.isnan(classes[cls]), 0, 1 << bit).astype(np.uint8)
    mue_mask = np.zeros(n, dtype=np.uint16)
    for bit, name in enumerate(mue_names):
        mue_mask |= np.where(np.isnan(mues[name]), 0, 1 << bit).astype(np.uint16)
    full = (1 << len(class_names)) - 1
    return ScoreArrays(
        version=formula.version,
        score=score,
        classes=MappingProxyType(classes),
        mues=MappingProxyType(mues),
        class_mask=class_mask,
        mue_mask=mue_mask,
        partial=scorable & (class_mask != full),
        weights=weights,
    )


@dataclass(frozen=True)
class Score:
    """One pair's MeshMark with its breakdown, as stored beside a result.

    ``score`` is None when the pair is not scorable (p50 or p99 MUE absent).
    ``missing`` lists the absent MUEs in canonical order; an absent class has
    ``classes[name] is None``; ``partial`` is True when a scorable pair lacks
    at least one class. ``mue_mask`` (bit ``i`` = ``MUE_NAMES[i]`` present) is
    the comparability key: rank only scores with equal masks.
    """

    version: str
    score: float | None
    classes: dict[str, float | None]
    mues: dict[str, float | None]
    missing: list[str]
    partial: bool
    mue_mask: int
    weights: Weights = DEFAULT_WEIGHTS

    @property
    def scorable(self) -> bool:
        return self.score is not None

    @property
    def missing_classes(self) -> list[str]:
        return [name for name, value in self.classes.items() if value is None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready breakdown; ``weights`` holds non-default adjustments only."""
        return {
            "version": self.version,
            "score": self.score,
            "scorable": self.scorable,
            "partial": self.partial,
            "classes": dict(self.classes),
            "mues": dict(self.mues),
            "missing": list(self.missing),
            "missing_classes": self.missing_classes,
            "mue_mask": self.mue_mask,
            "weights": self.weights.to_dict(),
        }


def score_pair(
    baseline: PerformanceTestResult,
    mesh: PerformanceTestResult,
    *,
    mesh_config: ServiceMeshConfig | None = None,
    environment: EnvironmentConfig | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
    formula: Formula = CURRENT,
    error_budget: float | None = None,
) -> Score:
    """Score one mesh run against its paired baseline run.

    Method: read the figures with :func:`scoring.inputs.pair_row`
    (mesh resources from ``mesh.resources``, block by block falling back to
    ``mesh_config``; application resources from ``mesh.resources.workloads``,
    else ``environment.individual_workloads``) and call :func:`score_arrays`
    on that single row, so both paths share one formula.
    """
    row = pair_row(
        baseline, mesh, mesh_config=mesh_config, environment=environment, error_budget=error_budget
    )
    pairs = PairArrays.from_columns({name: [value] for name, value in row.items()})
    return score_arrays(pairs, weights, formula).row(0)
