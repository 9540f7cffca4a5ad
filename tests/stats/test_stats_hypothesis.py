"""Rank tests, multiplicity and Kendall's tau against scipy / statsmodels; type-I error of the paired test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from robusteval.stats.hypothesis import (
    adjust_families,
    adjust_pvalues,
    kendall_tau_b,
    mannwhitney,
    wilcoxon_many,
)

pytestmark = pytest.mark.filterwarnings("error")


TIED_13 = np.array([0.5, -0.5, 1.0, 1.0, -2.0, 0.0, 3.0, 0.5, 4.0, -1.5, 2.5, 6.0, 7.0])


def _rows(seed: int, count: int, *, with_13: bool = False) -> list[np.ndarray]:
    """Paired differences, some rounded so that ties and zeros occur.

    Sizes 3..9 and 14..25, optionally one tied row of 13 (the largest size scipy tests by exhaustive sign
    flips; scipy needs ~2 s for it, its per-row sign-flip path being slow, so it is checked once).
    """
    rng = np.random.default_rng(seed)
    sizes = [*range(3, 10), *range(14, 26)]
    rows = [TIED_13] if with_13 else []
    for _ in range(count):
        n = int(rng.choice(sizes))
        d = np.round(rng.normal(0.1, 1.0, n), int(rng.choice([0, 1, 6])))
        if not np.all(d == 0):
            rows.append(d)
    return rows


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_wilcoxon_equals_scipy(alternative: str) -> None:
    rows = _rows(1, 60, with_13=alternative == "two-sided")
    ours = wilcoxon_many(rows, alternative=alternative)  # type: ignore[arg-type]
    for d, res in zip(rows, ours, strict=True):
        want = stats.wilcoxon(d, alternative=alternative)
        assert res.p_value == pytest.approx(float(want.pvalue), rel=1e-12, abs=0)
        assert res.statistic == pytest.approx(float(want.statistic), rel=1e-12)
        assert res.n == len(d)


def test_wilcoxon_covers_each_scipy_method() -> None:
    """The rows exercise the exact, permutation (ties/zeros, n <= 13) and normal-approximation paths."""
    rows = _rows(1, 60)
    tied = [len(np.unique(np.abs(d))) < len(d) or bool(np.any(d == 0)) for d in rows]
    assert any(t and len(d) <= 9 for t, d in zip(tied, rows, strict=True))
    assert any(t and len(d) > 13 for t, d in zip(tied, rows, strict=True))
    assert any(not t for t in tied)


def test_wilcoxon_edge_cases() -> None:
    zero, empty = wilcoxon_many([np.zeros(5), np.array([])])
    assert zero.p_value == 1.0
    assert "zero" in zero.note
    assert math.isnan(empty.p_value)
    assert empty.note


def test_paired_test_type_one_error_under_null() -> None:
    """2000 simulated null data sets (n = 20, symmetric differences): rejection rate at 5% is at most 5.5%."""
    rng = np.random.default_rng(77)
    rows = [rng.normal(0.0, 0.05, 20) for _ in range(2000)]
    p = np.array([r.p_value for r in wilcoxon_many(rows)])
    rate = float(np.mean(p < 0.05))
    assert rate <= 0.055
    assert rate >= 0.03  # the test is not trivially conservative either


def test_mannwhitney_equals_scipy() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1, 12), np.round(rng.normal(0.5, 1, 9), 1)
    res = mannwhitney(x, y)
    want = stats.mannwhitneyu(x, y)
    assert res.p_value == pytest.approx(float(want.pvalue), rel=1e-12)
    assert res.statistic == float(want.statistic)
    assert math.isnan(mannwhitney([], y).p_value)


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_adjustment_equals_statsmodels(method: str) -> None:
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.012, 0.5])
    ours = adjust_pvalues(p, method)  # type: ignore[arg-type]
    np.testing.assert_allclose(ours, multipletests(p, method=method)[1], rtol=0, atol=0)


def test_holm_by_hand_and_nan_outside_the_family() -> None:
    p = np.array([0.01, np.nan, 0.04, 0.03])
    ours = adjust_pvalues(p, "holm")
    # sorted 0.01, 0.03, 0.04 with multipliers 3, 2, 1 -> 0.03, 0.06, max(0.06, 0.04) = 0.06
    np.testing.assert_allclose(ours[[0, 2, 3]], [0.03, 0.06, 0.06], rtol=1e-12)
    assert math.isnan(ours[1])


def test_adjust_families_is_per_family() -> None:
    a, b = adjust_families([[0.01, 0.02], [0.01]], "holm")
    np.testing.assert_allclose(a, [0.02, 0.02])
    np.testing.assert_allclose(b, [0.01])


def test_kendall_tau_b_equals_scipy() -> None:
    rng = np.random.default_rng(4)
    ref = np.array([1.0, 2.0, 2.0, 4.0, 5.0, 6.0])
    others = rng.integers(1, 5, (50, 6)).astype(float)
    ours = kendall_tau_b(ref, others)
    for row, tau in zip(others, ours, strict=True):
        want = stats.kendalltau(ref, row).statistic
        if np.isnan(want):
            assert np.isnan(tau)
        else:
            assert tau == pytest.approx(float(want), rel=1e-12)
    assert math.isnan(kendall_tau_b(ref, np.ones((1, 6)))[0])
