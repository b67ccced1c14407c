"""Honest statistics for repeated runs: intervals, outliers, comparisons, ties.

Every function is deterministic: resampling uses a seeded generator, and the
seed is a parameter with a fixed default. NaN values (unscorable rows) are
dropped before any computation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats as scipy_stats

from scoring.inputs import BoolArray, FloatArray

MAD_SCALE = 0.6745
"""Phi^-1(0.75): makes MAD-based z-scores comparable to standard z-scores (Iglewicz-Hoaglin)."""

MEAN_AD_SCALE = 0.7979
"""sqrt(2/pi): the fallback scale when MAD is 0, with the mean absolute deviation."""

ALPHA = 0.05


def _finite(values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    return array[np.isfinite(array)]


def _median(sample: FloatArray, axis: int = -1) -> Any:
    return np.median(sample, axis=axis)


def bootstrap_ci(
    scores: npt.ArrayLike,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The median of ``scores`` and its bootstrap confidence interval ``(median, low, high)``.

    Method: the percentile bootstrap of the median with ``n_resamples``
    resamples from ``numpy.random.default_rng(seed)`` (BCa's acceleration is
    unstable for the median's discrete bootstrap distribution). A resample's
    median depends only on the order statistics at the middle, so instead of
    drawing n values per resample (O(n) each) it draws those order statistics
    directly: the k-th smallest of n uniforms is Beta(k, n - k + 1), the next
    one above it is u + (1 - u) * Beta(1, n - k), and a uniform u maps to the
    sorted sample's value at index floor(u * n) (the inverse of the empirical
    distribution). That is the same distribution as resampling the data, at
    O(n log n + n_resamples) instead of O(n * n_resamples), which is what lets a
    rebuild bootstrap a million results in seconds (docs/benchmarks.md).
    Small samples: n = 1 gives ``low = high = median`` (one run carries no
    spread; callers show n beside the interval); n = 2 gives the range
    ``[min, max]`` with the mean as median, which is what the percentile
    bootstrap converges to; identical values give a zero-width interval.
    NaN and infinite values are dropped; none left raises ``ValueError``.
    Units: those of ``scores``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    sample = np.sort(_finite(scores))
    if sample.size == 0:
        raise ValueError("bootstrap_ci needs at least one finite score")
    median = float(np.median(sample))
    low, high = float(sample[0]), float(sample[-1])
    if sample.size <= 2 or low == high:
        return median, low, high
    medians = bootstrap_medians(sample, n_resamples, np.random.default_rng(seed))
    tail = (1 - confidence) / 2 * 100
    ci_low, ci_high = np.percentile(medians, [tail, 100 - tail])
    return median, float(ci_low), float(ci_high)


def bootstrap_medians(
    ordered: FloatArray, n_resamples: int, rng: np.random.Generator
) -> FloatArray:
    """Medians of ``n_resamples`` bootstrap resamples of the sorted sample ``ordered``."""
    n = ordered.size
    k = (n + 1) // 2  # the lower middle order statistic (the median itself when n is odd)
    u_k = rng.beta(k, n - k + 1, size=n_resamples)
    lower = ordered[np.minimum((u_k * n).astype(np.int64), n - 1)]
    if n % 2:
        return np.asarray(lower, dtype=np.float64)
    u_next = u_k + (1 - u_k) * rng.beta(1, n - k, size=n_resamples)
    upper = ordered[np.minimum((u_next * n).astype(np.int64), n - 1)]
    return np.asarray((lower + upper) / 2, dtype=np.float64)


def robust_z(values: npt.ArrayLike) -> FloatArray:
    """Robust (modified) z-scores: ``0.6745 * (x - median) / MAD``.

    Method: Iglewicz & Hoaglin's modified z-score over the finite values. When
    MAD is 0 (more than half the values equal) the scale falls back to the
    mean absolute deviation: ``(x - median) / (1.2533 * meanAD)``, i.e.
    ``MEAN_AD_SCALE * (x - median) / meanAD``. When that is 0 too (all values
    equal) every z is 0. Non-finite inputs get NaN. Unitless; same shape as
    ``values``.
    """
    array = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(array)
    z = np.full(array.shape, np.nan)
    if not finite.any():
        return z
    sample = array[finite]
    median = np.median(sample)
    deviation = np.abs(sample - median)
    mad = float(np.median(deviation))
    if mad > 0:
        z[finite] = MAD_SCALE * (sample - median) / mad
        return z
    mean_ad = float(np.mean(deviation))
    z[finite] = MEAN_AD_SCALE * (sample - median) / mean_ad if mean_ad > 0 else 0.0
    return z


def outlier_mask(values: npt.ArrayLike, threshold: float = 3.5) -> BoolArray:
    """True where ``|robust_z| > threshold`` (3.5: Iglewicz & Hoaglin's recommendation).

    Outliers are flagged and left out of aggregates, never deleted. NaN
    values are never flagged.
    """
    z = robust_z(values)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.abs(z) > threshold, dtype=np.bool_)


@dataclass(frozen=True)
class Comparison:
    """Two samples (e.g. two mesh configurations' scores) compared.

    ``p_value``: Mann-Whitney U, two-sided. ``cliffs_delta``: P(a > b) - P(a < b)
    in [-1, 1] (equal to the rank-biserial correlation); positive = ``a``
    tends higher. ``median_diff`` = median(a) - median(b) with its bootstrap
    interval ``[diff_low, diff_high]``. ``significant``: ``p_value < alpha``.
    """

    p_value: float
    cliffs_delta: float
    median_diff: float
    diff_low: float
    diff_high: float
    n_a: int
    n_b: int
    alpha: float
    significant: bool

    @property
    def common_language(self) -> float:
        """P(a > b) + P(a = b) / 2: the common-language effect size."""
        return (self.cliffs_delta + 1.0) / 2.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "p_value": self.p_value,
            "cliffs_delta": self.cliffs_delta,
            "common_language": self.common_language,
            "median_diff": self.median_diff,
            "diff_ci": [self.diff_low, self.diff_high],
            "n_a": self.n_a,
            "n_b": self.n_b,
            "alpha": self.alpha,
            "significant": self.significant,
        }


def _median_diff(a: FloatArray, b: FloatArray, axis: int = -1) -> Any:
    return np.median(a, axis=axis) - np.median(b, axis=axis)


def compare(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    alpha: float = ALPHA,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Is ``a`` different from ``b``? Mann-Whitney U, Cliff's delta, median difference.

    Method: ``scipy.stats.mannwhitneyu(a, b, alternative="two-sided")``
    (exact for small samples without ties, else asymptotic with continuity
    correction); Cliff's delta ``2 U_a / (n_a n_b) - 1``; the median difference
    with an independent two-sample percentile bootstrap (seeded). When either
    sample has one value, or both are constant, the interval collapses to the
    point estimate. Assumptions: runs are independent; no normality assumed.
    NaN values are dropped; an empty sample raises ``ValueError``.
    """
    sample_a, sample_b = _finite(a), _finite(b)
    if sample_a.size == 0 or sample_b.size == 0:
        raise ValueError("compare needs at least one finite value in each sample")
    n_a, n_b = int(sample_a.size), int(sample_b.size)
    u_a, p_value = scipy_stats.mannwhitneyu(sample_a, sample_b, alternative="two-sided")
    p = float(p_value)
    if math.isnan(p):  # every value equal: no evidence of any difference
        p = 1.0
    delta = 2.0 * float(u_a) / (n_a * n_b) - 1.0
    diff = float(np.median(sample_a) - np.median(sample_b))
    degenerate = min(n_a, n_b) < 2 or (np.ptp(sample_a) == 0 and np.ptp(sample_b) == 0)
    if degenerate:
        low, high = diff, diff
    else:
        result = scipy_stats.bootstrap(
            (sample_a, sample_b),
            _median_diff,
            n_resamples=n_resamples,
            vectorized=True,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        low = float(result.confidence_interval.low)
        high = float(result.confidence_interval.high)
    return Comparison(
        p_value=p,
        cliffs_delta=delta,
        median_diff=diff,
        diff_low=low,
        diff_high=high,
        n_a=n_a,
        n_b=n_b,
        alpha=alpha,
        significant=p < alpha,
    )


def ties(intervals: Sequence[tuple[float, float, float]]) -> list[int]:
    """Shared ranks for rows ``(median, low, high)``, returned in input order.

    Method: order the rows by median, highest first (equal medians keep input
    order; rows with a NaN median go last). Walk that order: the first row
    gets rank 1; each next row gets the rank of the row before it when their
    closed intervals overlap (``low_prev <= high_cur and low_cur <= high_prev``),
    and otherwise its position (1-based) in the order, i.e. standard
    competition ranking ("1, 1, 3"). Overlap is checked only against the
    previous row, so a chain of overlaps shares one rank. A row with a NaN
    bound never shares. Deterministic.
    """
    rows = [(float(m), float(lo), float(hi)) for m, lo, hi in intervals]
    order = sorted(
        range(len(rows)),
        key=lambda i: (math.isnan(rows[i][0]), -rows[i][0] if not math.isnan(rows[i][0]) else 0, i),
    )
    ranks = [0] * len(rows)
    previous: int | None = None
    for position, index in enumerate(order, start=1):
        _, low, high = rows[index]
        if previous is not None:
            _, prev_low, prev_high = rows[previous]
            if prev_low <= high and low <= prev_high:  # False when any bound is NaN
                ranks[index] = ranks[previous]
                previous = index
                continue
        ranks[index] = position
        previous = index
    return ranks
