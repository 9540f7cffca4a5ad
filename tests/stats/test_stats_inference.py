"""The t procedure of every comparison against scipy and statsmodels: tests, intervals, clustering, adjusted
intervals that agree with adjusted p-values, power and the exact rank tests' floor."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from stats_references import hall_reference
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from robusteval.stats import (
    adjusted_interval,
    contrast_t,
    minimum_detectable,
    paired_t,
    power_t,
    two_sample_t,
    units_needed,
)
from robusteval.stats.inference import rank_test_floor

pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.parametrize("level", [0.95, 0.9])
def test_paired_t_is_scipys_one_sample_t(level: float) -> None:
    rng = np.random.default_rng(1)
    for n in (3, 6, 11, 40):
        d = rng.normal(0.02, 0.05, n)
        ours = paired_t(d, confidence_level=level, skew_correction=False)
        ref = stats.ttest_1samp(d, 0.0)
        ci = ref.confidence_interval(level)
        assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-10)
        assert ours.statistic == pytest.approx(float(ref.statistic), rel=1e-10)
        assert (ours.ci_low, ours.ci_high) == (pytest.approx(ci.low, rel=1e-10), pytest.approx(ci.high, rel=1e-10))
        assert (ours.df, ours.method, ours.clustered) == (n - 1, "t", False)


def test_two_sample_t_is_scipys_welch_test() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(0.8, 0.05, 7), rng.normal(0.7, 0.12, 13)
    ours = two_sample_t(x, y, skew_correction=False)
    ref = stats.ttest_ind(y, x, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert ours.estimate == pytest.approx(y.mean() - x.mean())
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-10)
    assert ours.df == pytest.approx(float(ref.df), rel=1e-10)
    assert (ours.ci_low, ours.ci_high) == (pytest.approx(ci.low, rel=1e-10), pytest.approx(ci.high, rel=1e-10))
    assert ours.method == "welch-t"


def test_clustered_standard_error_is_statsmodels_cluster_robust() -> None:
    """Unequal cluster sizes: the CR1 standard error of a mean equals statsmodels' OLS cluster covariance."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 5, 9)
    units = np.repeat(np.arange(9), sizes)
    y = rng.normal(0.02, 0.05, len(units)) + np.repeat(rng.normal(0, 0.05, 9), sizes)
    ours = paired_t(y, units, skew_correction=False)
    fit = sm.OLS(y, np.ones(len(y))).fit(cov_type="cluster", cov_kwds={"groups": units}, use_t=True)
    assert ours.std_error == pytest.approx(float(fit.bse[0]), rel=1e-10)
    assert (ours.df, ours.n_units, ours.clustered) == (8, 9, True)
    assert ours.p_value == pytest.approx(float(fit.pvalues[0]), rel=1e-8)  # t with G - 1 df
    equal = np.repeat(np.arange(6), 3)
    v = rng.normal(0.0, 0.1, 18)
    means = np.bincount(equal, weights=v) / 3  # equal sizes: the t test of the subject means
    assert paired_t(v, equal, skew_correction=False).p_value == pytest.approx(
        float(stats.ttest_1samp(means, 0.0).pvalue), rel=1e-10
    )
    hall = paired_t(v, equal, skew_correction=True)  # psi are proportional to the subject means
    assert hall.p_value == pytest.approx(hall_reference(means)[0], rel=1e-8)


def test_a_contrast_pairs_rows_of_one_subject_and_separates_strata() -> None:
    """mean(OOD rows) - mean(ID rows) with shifted rows of the ID subjects and rows of other-site subjects."""
    rng = np.random.default_rng(4)
    subj = np.arange(8)
    clean = 0.8 + rng.normal(0, 0.05, 8)
    shifted = np.concatenate([clean - 0.05 + rng.normal(0, 0.01, 8) for _ in range(3)])
    site = rng.normal(0.7, 0.08, 6)
    c = contrast_t(
        [clean, shifted, site],
        [-1.0, 24 / 30, 6 / 30],
        [subj, np.tile(subj, 3), np.arange(100, 106)],
        ["id", "id", "ood"],
    )
    assert c.estimate == pytest.approx(np.concatenate([shifted, site]).mean() - clean.mean())
    assert (c.method, c.n_units, c.clustered) == ("welch-t", 14, True)
    assert c.min_units == 6
    merged = two_sample_t(clean[:5], site, subj[:5], np.array([0, 1, 100, 101, 102, 103]))
    assert "both samples" in merged.note
    assert merged.method == "t"


def test_hall_skewness_correction_against_a_reference() -> None:
    """The default test: Hall's transformation of scipy's t statistic, and the interval inverting it."""
    rng = np.random.default_rng(7)
    for n in (4, 6, 10, 25):
        d = 0.03 * (rng.gamma(2.0, 1.0, n) - 1.5)
        ours = paired_t(d, skew_correction=True)
        p, low, high = hall_reference(d)
        assert ours.method == "hall-t"
        assert ours.p_value == pytest.approx(p, rel=1e-8)
        assert (ours.ci_low, ours.ci_high) == (pytest.approx(low, rel=1e-8), pytest.approx(high, rel=1e-8))
        assert ours.skewness == pytest.approx(float(stats.skew(d)) / math.sqrt(n))
        assert (ours.ci_low > 0 or ours.ci_high < 0) == (ours.p_value < 0.05)
    symmetric = np.array([-0.2, -0.1, 0.0, 0.1, 0.2, 0.05]) + 0.04
    plain = paired_t(symmetric)
    corrected = paired_t(symmetric, skew_correction=True)
    assert corrected.p_value == pytest.approx(plain.p_value, rel=0.05)  # little skew: little change
    right = 0.01 * (rng.gamma(1.0, 1.0, 12) - 1.0)  # right-skewed: the interval reaches further up
    c = paired_t(right, skew_correction=True)
    assert c.ci_high - c.estimate > c.estimate - c.ci_low


def test_degenerate_and_too_small_comparisons_say_why() -> None:
    zero = paired_t(np.zeros(5))
    assert (zero.p_value, zero.method, zero.ci_low, zero.ci_high) == (1.0, "degenerate", 0.0, 0.0)
    constant = paired_t(np.full(5, 0.1))
    assert math.isnan(constant.p_value)
    assert "no variation" in constant.note
    small = paired_t([0.1, 0.2])
    assert math.isnan(small.p_value)
    assert math.isnan(small.ci_low)
    assert "too few" in small.note
    clustered = paired_t([0.1, 0.2, 0.3, 0.1], ["a", "a", "b", "b"])
    assert "2 independent subjects" in clustered.note


@pytest.mark.parametrize("method", ["holm", "fdr_bh", "bonferroni"])
def test_adjusted_interval_excludes_zero_exactly_when_adjusted_p_is_significant(method: str) -> None:
    rng = np.random.default_rng(5)
    comparisons = [
        paired_t(rng.gamma(2.0, 0.03, 8) - rng.choice([0.06, 0.02]), skew_correction=bool(i % 2)) for i in range(40)
    ]
    p = np.array([c.p_value for c in comparisons])
    adjusted = multipletests(p, method=method)[1]
    n_sig = 0
    for c, pa in zip(comparisons, adjusted, strict=True):
        low, high, level = adjusted_interval(c, float(pa), 0.05)
        assert (low > 0 or high < 0) == (pa < 0.05)
        n_sig += pa < 0.05
        assert level == pytest.approx(1 - 0.05 * c.p_value / pa)
        if method == "bonferroni" and pa < 1:
            assert level == pytest.approx(1 - 0.05 / 40)  # the usual Bonferroni interval
        assert low <= c.ci_low <= c.estimate <= c.ci_high <= high  # never narrower than unadjusted
    assert 0 < n_sig < 40


def test_power_and_minimum_detectable_difference_are_statsmodels_ttest_power() -> None:
    sd, n, alpha = 0.06, 9, 0.05 / 7
    se = sd / math.sqrt(n)
    ref = TTestPower()
    assert power_t(0.05, se, n - 1, alpha) == pytest.approx(
        ref.power(effect_size=0.05 / sd, nobs=n, alpha=alpha), rel=1e-7
    )
    d = ref.solve_power(nobs=n, alpha=alpha, power=0.8)
    assert minimum_detectable(se, n - 1, alpha, 0.8) == pytest.approx(d * sd, rel=1e-6)
    rng = np.random.default_rng(6)
    c = paired_t(rng.normal(0.03, sd, n), skew_correction=False)
    needed = units_needed(c, 0.05, alpha, 0.8)
    assert needed is not None
    sd_obs = c.std_error * math.sqrt(n)
    assert needed == math.ceil(ref.solve_power(effect_size=0.05 / sd_obs, alpha=alpha, power=0.8))


def test_rank_test_floor_is_the_smallest_exact_p() -> None:
    """Two-sided exact Wilcoxon at n = 6: 1/32 (every difference positive); Mann-Whitney 3 vs 4: 2/35."""
    assert rank_test_floor(6) == pytest.approx(float(stats.wilcoxon(np.arange(1.0, 7.0), method="exact").pvalue))
    assert rank_test_floor(6) == 1 / 32
    x, y = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0, 7.0])
    exact = float(stats.mannwhitneyu(x, y, method="exact").pvalue)
    assert rank_test_floor(3, 4) == pytest.approx(exact)
