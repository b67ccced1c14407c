"""Confidence intervals, outliers, comparisons and ties on fixed, seeded samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring.stats import (
    bootstrap_ci,
    bootstrap_medians,
    compare,
    outlier_mask,
    robust_z,
    ties,
)


def sample(n: int, centre: float = 70.0, spread: float = 4.0, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(centre, spread, n)


def test_the_bootstrap_interval_contains_the_median() -> None:
    scores = sample(25)

    median, low, high = bootstrap_ci(scores)

    assert median == pytest.approx(float(np.median(scores)))
    assert low <= median <= high
    assert low < high


def test_the_bootstrap_interval_narrows_with_more_runs() -> None:
    _, low_few, high_few = bootstrap_ci(sample(10))
    _, low_many, high_many = bootstrap_ci(sample(1000))

    assert high_many - low_many < (high_few - low_few) / 3


def test_the_bootstrap_interval_is_the_same_for_the_same_seed() -> None:
    scores = sample(30)

    assert bootstrap_ci(scores, seed=3) == bootstrap_ci(scores, seed=3)
    assert bootstrap_ci(scores, seed=3) != bootstrap_ci(scores, seed=4)


@pytest.mark.parametrize("n", [3, 4, 9, 10, 57, 400])
def test_drawing_the_middle_order_statistics_matches_resampling_the_data(n: int) -> None:
    # The shortcut must have the distribution of the textbook bootstrap: draw n
    # values with replacement and take their median, many times.
    ordered = np.sort(np.round(sample(n, seed=n), 1))  # rounded: ties, as real scores have
    rng = np.random.default_rng(11)
    brute = np.median(rng.choice(ordered, size=(20000, n), replace=True), axis=1)

    fast = bootstrap_medians(ordered, 20000, np.random.default_rng(12))

    # Same distribution: the two empirical CDFs agree everywhere (Kolmogorov-Smirnov
    # distance; 0.02 is about 1.4x its 1% critical value for two samples of 20k).
    support = np.union1d(fast, brute)
    cdf_fast = np.searchsorted(np.sort(fast), support, side="right") / fast.size
    cdf_brute = np.searchsorted(np.sort(brute), support, side="right") / brute.size
    assert np.max(np.abs(cdf_fast - cdf_brute)) < 0.02
    assert set(np.unique(fast)) <= set(np.unique(brute)) | {
        (a + b) / 2 for a in ordered for b in ordered
    }


def test_a_large_sample_is_bootstrapped_without_resampling_every_value() -> None:
    scores = sample(200_000)

    median, low, high = bootstrap_ci(scores)

    # The interval of the median of 200k normal values is about +-2.5 * 1.25 * 4 / sqrt(n).
    assert low < median < high
    assert high - low == pytest.approx(2 * 1.96 * 1.2533 * 4 / math.sqrt(200_000), rel=0.25)


def test_a_single_run_gives_a_zero_width_interval_at_its_value() -> None:
    assert bootstrap_ci([71.5]) == (71.5, 71.5, 71.5)


def test_two_runs_give_their_range_around_their_mean() -> None:
    assert bootstrap_ci([70.0, 74.0]) == (72.0, 70.0, 74.0)


def test_identical_runs_give_a_zero_width_interval() -> None:
    assert bootstrap_ci([66.0, 66.0, 66.0, 66.0]) == (66.0, 66.0, 66.0)


def test_unscorable_runs_are_left_out_of_the_interval() -> None:
    assert bootstrap_ci([70.0, math.nan, 74.0]) == (72.0, 70.0, 74.0)


def test_an_interval_without_any_score_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one finite score"):
        bootstrap_ci([math.nan])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0, 3.0], confidence=1.5)


def test_a_planted_outlier_is_flagged_and_the_inliers_are_not() -> None:
    values = np.append(sample(40, spread=1.0), 95.0)

    mask = outlier_mask(values)

    assert mask[-1]
    assert not mask[:-1].any()


def test_robust_z_uses_the_mad_with_the_0_6745_constant() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])  # median 3, MAD 1

    z = robust_z(values)

    assert z.tolist() == pytest.approx([-1.349, -0.6745, 0.0, 0.6745, 65.4265])


def test_robust_z_falls_back_to_the_mean_deviation_when_the_mad_is_zero() -> None:
    values = [5.0, 5.0, 5.0, 5.0, 9.0]  # MAD 0, mean absolute deviation 0.8

    z = robust_z(values)

    assert z[-1] == pytest.approx(0.7979 * 4.0 / 0.8)
    assert outlier_mask(values).tolist() == [False, False, False, False, True]


def test_identical_values_have_no_outliers() -> None:
    assert robust_z([3.0, 3.0, 3.0]).tolist() == [0.0, 0.0, 0.0]
    assert not outlier_mask([3.0, 3.0, 3.0]).any()


def test_missing_values_are_never_flagged() -> None:
    mask = outlier_mask([10.0, 10.5, math.nan, 9.5, 10.0])

    assert mask.tolist() == [False, False, False, False, False]
    assert math.isnan(robust_z([10.0, math.nan, 11.0])[1])


def test_compare_finds_a_real_difference() -> None:
    istio = sample(20, centre=62.0, seed=1)
    linkerd = sample(20, centre=74.0, seed=2)

    result = compare(istio, linkerd)

    assert result.p_value < 0.05
    assert result.significant
    assert result.cliffs_delta < -0.8
    assert result.diff_low <= result.median_diff <= result.diff_high < 0
    assert (result.n_a, result.n_b) == (20, 20)


def test_compare_finds_no_difference_between_samples_of_one_distribution() -> None:
    first = sample(20, seed=11)
    second = sample(20, seed=12)

    result = compare(first, second)

    assert result.p_value > 0.05
    assert not result.significant
    assert result.diff_low <= 0 <= result.diff_high


def test_compare_of_a_sample_with_itself_is_a_null_result() -> None:
    scores = sample(10)

    result = compare(scores, scores)

    assert result.p_value == pytest.approx(1.0)
    assert result.cliffs_delta == 0.0
    assert result.common_language == 0.5
    assert result.median_diff == 0.0


def test_compare_handles_single_runs_and_constant_samples() -> None:
    single = compare([60.0], [70.0])
    constant = compare([50.0, 50.0, 50.0], [50.0, 50.0, 50.0])

    assert (single.diff_low, single.median_diff, single.diff_high) == (-10.0, -10.0, -10.0)
    assert not single.significant
    assert constant.p_value == 1.0
    assert not constant.significant


def test_compare_is_deterministic() -> None:
    a, b = sample(15, seed=1), sample(15, centre=72.0, seed=2)

    assert compare(a, b) == compare(a, b)
    assert compare(a, b).to_dict()["diff_ci"] == [compare(a, b).diff_low, compare(a, b).diff_high]


def test_compare_refuses_an_empty_sample() -> None:
    with pytest.raises(ValueError, match="each sample"):
        compare([], [1.0])


def test_rows_whose_intervals_overlap_share_a_rank() -> None:
    rows = [
        (80.0, 75.0, 85.0),  # overlaps nothing above it: rank 2
        (70.0, 66.0, 76.0),  # overlaps the 80 row: shares rank 2
        (60.0, 50.0, 65.0),  # clear of the 70 row: rank 4 (competition ranking)
        (90.0, 88.0, 95.0),  # best: rank 1
    ]

    assert ties(rows) == [2, 2, 4, 1]


def test_a_chain_of_overlaps_shares_one_rank() -> None:
    rows = [(90.0, 84.0, 96.0), (80.0, 74.0, 86.0), (70.0, 64.0, 76.0)]

    assert ties(rows) == [1, 1, 1]


def test_touching_intervals_count_as_overlapping() -> None:
    assert ties([(80.0, 75.0, 85.0), (70.0, 65.0, 75.0)]) == [1, 1]


def test_rows_with_equal_medians_keep_input_order_and_unscored_rows_go_last() -> None:
    rows = [
        (math.nan, math.nan, math.nan),
        (70.0, 70.0, 70.0),
        (70.0, 70.0, 70.0),
        (50.0, 49.0, 51.0),
    ]

    assert ties(rows) == [4, 1, 1, 3]


def test_ties_of_nothing_is_nothing() -> None:
    assert ties([]) == []
