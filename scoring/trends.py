"""Release trends: did a mesh's new release change its MeshMark, and by how much?

Between two consecutive releases of one mesh configuration in one comparability
group, :func:`change_verdict` says ``regression``, ``improvement``, ``no-change``
("no detectable change") or ``not-enough-runs``. The rule (docs/meshmark.md,
"Release trends") asks for three things before it calls a change:

1. enough runs on both sides (:data:`MIN_RUNS`);
2. significance: the two-sided Mann-Whitney U test, the one the compare view
   uses (:func:`scoring.stats.compare`), at the stricter :data:`TREND_ALPHA`,
   because a mesh page tests many steps at once;
3. a minimum effect, both in size (``|Cliff's delta|`` at least
   :data:`MIN_CLIFFS_DELTA`, a "medium" effect) and in points (the medians at
   least :data:`MIN_EFFECT_POINTS` apart): with thousands of runs a difference
   of a tenth of a point is significant and of no consequence to anyone.

Pure NumPy/SciPy; NaN values are dropped first; deterministic (seeded bootstrap).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as scipy_stats

from scoring.stats import bootstrap_medians

MIN_RUNS = 5
"""Runs each release needs before a verdict: with fewer, the exact Mann-Whitney test
cannot reach TREND_ALPHA at all (its smallest two-sided p for 4 and 4 runs is 0.029)."""
TREND_ALPHA = 0.01
"""Significance level of a release step (the compare view's is 0.05)."""
MIN_CLIFFS_DELTA = 0.33
"""Smallest |Cliff's delta| called a change: Romano et al.'s (2006) "medium" threshold."""
MIN_EFFECT_POINTS = 1.0
"""Smallest difference of medians called a change, in MeshMark points (0-100 scale)."""
RULE_VERSION = "trend-1"
"""Changes whenever the rule or its constants change (part of cached verdicts' keys)."""

Verdict = Literal["regression", "improvement", "no-change", "not-enough-runs"]


@dataclass(frozen=True)
class Change:
    """The verdict on one release step, ``before`` -> ``after``, with its evidence.

    ``median_diff`` is ``median(after) - median(before)`` in MeshMark points
    with its 95% bootstrap interval ``[diff_low, diff_high]``; ``cliffs_delta``
    is P(after > before) - P(after < before) (negative: the new release tends to
    score lower); ``p_value`` the two-sided Mann-Whitney U p-value. The test
    figures are None when a side has fewer than two runs. ``reason`` says in
    words why the verdict is what it is.
    """

    verdict: Verdict
    n_before: int
    n_after: int
    median_before: float | None
    median_after: float | None
    median_diff: float | None
    diff_low: float | None
    diff_high: float | None
    p_value: float | None
    cliffs_delta: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    return np.sort(array[np.isfinite(array)])


def median_diff_interval(
    before: npt.NDArray[np.float64],
    after: npt.NDArray[np.float64],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of ``median(after) - median(before)``.

    Method: independent resamples of each sorted sample, drawn as their middle
    order statistics (:func:`scoring.stats.bootstrap_medians`, the leaderboard's
    method), so it costs O(n log n + n_resamples) whatever the sample sizes.
    A sample of one value contributes that value to every resample. Units: those
    of the samples (MeshMark points).
    """
    rng = np.random.default_rng(seed)

    def medians(sample: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if sample.size == 1:
            return np.full(n_resamples, sample[0])
        return bootstrap_medians(sample, n_resamples, rng)

    diffs = medians(after) - medians(before)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float(low), float(high)


def change_verdict(
    before: npt.ArrayLike,
    after: npt.ArrayLike,
    *,
    alpha: float = TREND_ALPHA,
    min_runs: int = MIN_RUNS,
    min_points: float = MIN_EFFECT_POINTS,
    min_delta: float = MIN_CLIFFS_DELTA,
    seed: int = 0,
) -> Change:
    """The verdict on a release step from the runs' MeshMarks before and after it.

    Method: drop NaN; below ``min_runs`` runs on either side the verdict is
    ``not-enough-runs``. Otherwise Mann-Whitney U (two-sided; exact for small
    samples without ties, asymptotic otherwise, as in ``scipy.stats.mannwhitneyu``),
    Cliff's delta ``2 U_after / (n_a n_b) - 1`` and the difference of medians.
    A change is called when ``p < alpha`` and ``|delta| >= min_delta`` and
    ``|median diff| >= min_points``; its direction is the sign of the median
    difference (a lower MeshMark is a regression). Assumptions: runs are
    independent draws of each release's distribution; no normality assumed.
    Under identical distributions the chance of calling a change is at most
    ``alpha`` per step (tests/scoring/test_trends.py simulates it).
    """
    a, b = _finite(before), _finite(after)
    n_a, n_b = int(a.size), int(b.size)
    med_a = float(np.median(a)) if n_a else None
    med_b = float(np.median(b)) if n_b else None
    diff = med_b - med_a if med_a is not None and med_b is not None else None
    low = high = None
    if n_a and n_b:
        low, high = median_diff_interval(a, b, seed=seed)
    p_value = delta = None
    if n_a >= 2 and n_b >= 2:
        u_after, p = scipy_stats.mannwhitneyu(b, a, alternative="two-sided")
        p_value = 1.0 if math.isnan(float(p)) else float(p)  # all equal: no evidence
        delta = 2.0 * float(u_after) / (n_a * n_b) - 1.0

    def change(verdict: Verdict, reason: str) -> Change:
        return Change(verdict, n_a, n_b, med_a, med_b, diff, low, high, p_value, delta, reason)

    if n_a < min_runs or n_b < min_runs:
        return change(
            "not-enough-runs",
            f"{n_a} and {n_b} runs; a verdict needs at least {min_runs} on each side",
        )
    assert p_value is not None and delta is not None and diff is not None
    if p_value >= alpha:
        return change("no-change", f"not significant (p = {p_value:.3g}, needs < {alpha})")
    if abs(delta) < min_delta:
        return change(
            "no-change",
            f"significant but small (Cliff's delta {delta:+.2f}, needs at least {min_delta})",
        )
    if abs(diff) < min_points:
        return change(
            "no-change",
            f"significant but under {min_points:g} point (medians {diff:+.2f} apart)",
        )
    direction: Verdict = "regression" if diff < 0 else "improvement"
    return change(
        direction,
        f"median {diff:+.2f} points (p = {p_value:.3g}, Cliff's delta {delta:+.2f})",
    )
