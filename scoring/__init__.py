"""MeshMark scoring: pure numpy/scipy, no Django (docs/meshmark.md is the spec).

The formula lives in :mod:`scoring.engine`, the absolute figures in
:mod:`scoring.normalize`, and the statistics (which import scipy) in
:mod:`scoring.stats`, imported on demand.
"""

from __future__ import annotations

from scoring.engine import (
    CLASS_NAMES,
    DEFAULT_WEIGHTS,
    FORMULA_VERSION,
    MUE_NAMES,
    PairArrays,
    Score,
    ScoreArrays,
    Weights,
    pair_arrays_from_results,
    score_arrays,
    score_pair,
)
from scoring.normalize import (
    NORMALIZED_LABEL,
    REFERENCE_PROBE,
    REFERENCE_SCORE,
    Figures,
    calibration_factor,
    env_class,
    figures_pair,
)

__all__ = [
    "CLASS_NAMES",
    "DEFAULT_WEIGHTS",
    "FORMULA_VERSION",
    "MUE_NAMES",
    "NORMALIZED_LABEL",
    "REFERENCE_PROBE",
    "REFERENCE_SCORE",
    "Figures",
    "PairArrays",
    "Score",
    "ScoreArrays",
    "Weights",
    "calibration_factor",
    "env_class",
    "figures_pair",
    "pair_arrays_from_results",
    "score_arrays",
    "score_pair",
]
