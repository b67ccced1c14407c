"""Release-step verdicts on fixed, seeded samples, a simulation of noise, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.stats import compare
from scoring.trends import (
    MIN_EFFECT_POINTS,
    MIN_RUNS,
    TREND_ALPHA,
    change_verdict,
    median_diff_interval,
)


def runs(n: int, centre: float, spread: float = 1.5, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(centre, spread, n)


def test_a_planted_regression_is_called_with_its_size() -> None:
    before, after = runs(8, 75.0, seed=1), runs(8, 70.0, seed=2)

    change = change_verdict(before, after)

    assert change.verdict == "regression"
    assert change.median_diff == pytest.approx(np.median(after) - np.median(before))
    assert change.median_diff < -3
    assert change.diff_low <= change.median_diff <= change.diff_high
    assert change.diff_high < 0
    assert change.p_value < TREND_ALPHA and change.cliffs_delta < -0.9


def test_the_same_step_backwards_is_an_improvement() -> None:
    before, after = runs(8, 75.0, seed=1), runs(8, 70.0, seed=2)

    assert change_verdict(after, before).verdict == "improvement"


def test_runs_of_one_distribution_raise_no_verdict() -> None:
    before, after = runs(12, 72.0, seed=3), runs(12, 72.0, seed=4)

    change = change_verdict(before, after)

    assert change.verdict == "no-change"
    assert "not significant" in change.reason


def test_too_few_runs_say_so_however_large_the_gap() -> None:
    change = change_verdict([90.0, 91, 92, 93], [50.0, 51, 52, 53, 54, 55])

    assert change.verdict == "not-enough-runs"
    assert change.n_before == 4 and change.n_after == 6
    assert f"at least {MIN_RUNS}" in change.reason
    assert change.median_diff == pytest.approx(52.5 - 91.5)


def test_a_single_run_gets_no_test_figures() -> None:
    change = change_verdict([70.0], [60.0, 61, 62, 63, 64])

    assert change.verdict == "not-enough-runs"
    assert change.p_value is None and change.cliffs_delta is None


def test_a_significant_difference_below_the_minimum_effect_is_no_change() -> None:
    # Thousands of runs make a 0.4-point shift highly significant: still not an alarm.
    before, after = runs(4000, 72.0, 1.0, seed=5), runs(4000, 71.6, 1.0, seed=6)

    change = change_verdict(before, after)

    assert change.p_value < 1e-6
    assert abs(change.median_diff) < MIN_EFFECT_POINTS
    assert change.verdict == "no-change"


def test_a_large_effect_under_one_point_is_no_change() -> None:
    # Tight runs: every run of the new release is lower, but by half a point.
    before = 72.0 + np.linspace(0, 0.1, 10)
    after = 71.5 + np.linspace(0, 0.1, 10)

    change = change_verdict(before, after)

    assert change.p_value < TREND_ALPHA and change.cliffs_delta == -1.0
    assert change.verdict == "no-change"
    assert "under 1 point" in change.reason


def test_the_test_figures_are_the_compare_views() -> None:
    before, after = runs(9, 74.0, seed=7), runs(11, 71.0, seed=8)

    change = change_verdict(before, after)
    reference = compare(after, before)

    assert change.p_value == pytest.approx(reference.p_value)
    assert change.cliffs_delta == pytest.approx(reference.cliffs_delta)
    assert change.median_diff == pytest.approx(reference.median_diff)


def test_nan_runs_are_dropped() -> None:
    before = [*runs(8, 75.0, seed=1), math.nan]
    after = [*runs(8, 70.0, seed=2), math.inf]

    change = change_verdict(before, after)

    assert (change.n_before, change.n_after) == (8, 8)
    assert change.verdict == "regression"


def test_the_median_difference_interval_narrows_with_more_runs() -> None:
    few = median_diff_interval(np.sort(runs(10, 70, seed=1)), np.sort(runs(10, 70, seed=2)))
    many = median_diff_interval(np.sort(runs(1000, 70, seed=1)), np.sort(runs(1000, 70, seed=2)))

    assert many[1] - many[0] < (few[1] - few[0]) / 4


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.normal(72.0, 3.0, n),
        # Skewed, as scores near a ceiling are: most runs close, a long low tail.
        lambda rng, n: 80.0 - rng.gamma(1.5, 2.0, n),
        # Rounded: ties, as stored scores of identical runs have.
        lambda rng, n: np.round(rng.normal(72.0, 1.0, n), 0),
    ],
    ids=["normal", "skewed", "ties"],
)
def test_noise_calls_a_change_at_most_alpha_of_the_time(draw: object) -> None:
    # 2,000 steps whose two releases have the same distribution, sizes from 5 to 60 runs:
    # the share of steps called a regression or improvement stays within alpha (with a
    # three-standard-error allowance for the simulation itself).
    rng = np.random.default_rng(2024)
    trials, alarms = 2000, 0
    for _ in range(trials):
        n_before, n_after = rng.integers(MIN_RUNS, 61, size=2)
        before, after = draw(rng, n_before), draw(rng, n_after)  # type: ignore[operator]
        alarms += change_verdict(before, after).verdict in ("regression", "improvement")
    allowance = 3 * math.sqrt(TREND_ALPHA * (1 - TREND_ALPHA) / trials)
    assert alarms / trials <= TREND_ALPHA + allowance


samples = st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(samples, samples)
def test_swapping_the_releases_swaps_the_verdict(before: list[float], after: list[float]) -> None:
    forward, backward = change_verdict(before, after), change_verdict(after, before)
    mirror = {"regression": "improvement", "improvement": "regression"}

    assert backward.verdict == mirror.get(forward.verdict, forward.verdict)


@settings(max_examples=200, deadline=None)
@given(samples, samples, st.floats(min_value=-50, max_value=50))
def test_moving_both_releases_by_the_same_amount_keeps_the_verdict(
    before: list[float], after: list[float], shift: float
) -> None:
    # Shifted by a whole number, so the floating-point order of the values is kept.
    shift = float(round(shift))
    moved = change_verdict([v + shift for v in before], [v + shift for v in after])

    assert moved.verdict == change_verdict(before, after).verdict
