"""Hypothesis tests and multiplicity: Wilcoxon signed-rank, Mann-Whitney U, Holm / BH, Kendall's tau-b.

Conventions: two-sided tests unless an ``alternative`` is given; ``alternative="greater"`` tests that the
paired differences (first minus second) are shifted above zero. Every p-value is scipy's with its default
options (``zero_method="wilcox"``, ``method="auto"``; Mann-Whitney with continuity correction).

:func:`wilcoxon_many` runs scipy's vectorized Wilcoxon on groups of rows that share the sample size and
whether they hold zeros or ties, because scipy's ``method="auto"`` picks the exact, permutation or normal
method once for a whole batch: grouping this way gives each row exactly the p-value of its own scipy call.
"""

from __future__ import annotations

__all__ = [
    "RankTestResult",
    "adjust_families",
    "adjust_pvalues",
    "kendall_tau_b",
    "mannwhitney",
    "wilcoxon_many",
]

import gc
import math
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from statsmodels.stats.multitest import multipletests

Alternative = Literal["two-sided", "greater", "less"]


@dataclass(frozen=True)
class RankTestResult:
    """A test's statistic and p-value (NaN when not computable, with the reason in ``note``)."""

    statistic: float
    p_value: float
    n: int
    note: str = ""


def _tied(d: NDArray[np.float64]) -> bool:
    a = np.abs(d)
    return bool(np.any(d == 0)) or len(np.unique(a)) < len(a)


# scipy's ``method="auto"`` runs an exhaustive sign-flip permutation test for samples with ties or zeros up to
# this size (2**13 < its default 9999 resamples).
_PERMUTATION_MAX_N = 13


def _wilcoxon_sign_flip(d: NDArray[np.float64], alternative: Alternative) -> tuple[NDArray[np.float64], ...]:
    """scipy's exact sign-flip Wilcoxon test (its ``auto`` choice for n <= 13 with ties or zeros), vectorized.

    scipy enumerates all 2**n sign flips with a non-vectorized statistic, which is slow; the null distribution
    is the multiset of sums of the nonzero differences' average ranks over all subsets (each flip pattern
    keeps a subset positive), which one matrix product gives exactly (ranks are multiples of 1/2). The
    comparison tolerance and p-value formulas are scipy's ``permutation_test``'s for an exact test.
    """
    n = d.shape[1]
    nonzero = d != 0
    ranks = stats.rankdata(np.where(nonzero, np.abs(d), np.nan), method="average", axis=-1, nan_policy="omit")
    ranks = np.where(nonzero, ranks, 0.0)
    r_plus = np.sum(np.where(d > 0, ranks, 0.0), axis=-1)
    r_minus = np.sum(np.where(d < 0, ranks, 0.0), axis=-1)
    bits = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.float64)
    null = bits @ ranks.T  # (2**n, rows)
    gamma = np.abs(np.finfo(np.float64).eps * 100 * r_plus)
    p_less = np.count_nonzero(null <= r_plus + gamma, axis=0) / 2.0**n
    p_greater = np.count_nonzero(null >= r_plus - gamma, axis=0) / 2.0**n
    if alternative == "less":
        p = p_less
    elif alternative == "greater":
        p = p_greater
    else:
        p = np.minimum(p_less, p_greater) * 2
    stat = np.minimum(r_plus, r_minus) if alternative == "two-sided" else r_plus
    return np.asarray(stat, dtype=np.float64), np.clip(p, 0.0, 1.0)


def wilcoxon_many(diffs: Sequence[ArrayLike], alternative: Alternative = "two-sided") -> list[RankTestResult]:
    """Wilcoxon signed-rank test of each sample of paired differences (NaNs must be removed beforehand).

    A sample whose differences are all zero gets p = 1 (no evidence of a difference) with a note; an empty
    sample gets NaN.
    """
    out: list[RankTestResult | None] = [None] * len(diffs)
    groups: dict[tuple[int, bool], list[tuple[int, NDArray[np.float64]]]] = defaultdict(list)
    for i, raw in enumerate(diffs):
        d = np.asarray(raw, dtype=np.float64).ravel()
        if len(d) == 0:
            out[i] = RankTestResult(math.nan, math.nan, 0, "no paired values")
        elif bool(np.all(d == 0)):
            out[i] = RankTestResult(0.0, 1.0, len(d), "all paired differences are zero: p set to 1")
        else:
            groups[(len(d), _tied(d))].append((i, d))
    for (n, tied), members in groups.items():
        block = np.stack([d for _, d in members])
        if tied and n <= _PERMUTATION_MAX_N:
            stat, p = _wilcoxon_sign_flip(block, alternative)
        else:
            with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                res = stats.wilcoxon(block, alternative=alternative, axis=-1)
            stat = np.atleast_1d(np.asarray(res.statistic, dtype=np.float64))
            p = np.atleast_1d(np.asarray(res.pvalue, dtype=np.float64))
        for r, (i, _) in enumerate(members):
            note = "" if math.isfinite(p[r]) else "scipy returned no p-value"
            out[i] = RankTestResult(float(stat[r]), float(p[r]), n, note)
    return [o for o in out if o is not None]


def mannwhitney(x: ArrayLike, y: ArrayLike, alternative: Alternative = "two-sided") -> RankTestResult:
    """Mann-Whitney U test of two independent samples (scipy defaults); NaN with a note if one is empty."""
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if len(xa) == 0 or len(ya) == 0:
        return RankTestResult(math.nan, math.nan, len(xa) + len(ya), "a group has no values")
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.mannwhitneyu(xa, ya, alternative=alternative)
    p = float(res.pvalue)
    return RankTestResult(float(res.statistic), p, len(xa) + len(ya), "" if math.isfinite(p) else "no p-value")


@contextmanager
def _cheap_gc() -> Iterator[None]:
    """Make the ``gc.collect()`` that ``multipletests(method="holm")`` runs on every call cheap.

    That collection costs ~0.2 s with a large heap; freezing the existing objects meanwhile makes it scan only
    new ones. Skipped when the caller has frozen objects already (their freeze is left alone).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def adjust_families(
    families: Sequence[ArrayLike], method: Literal["holm", "fdr_bh", "bonferroni"] = "holm"
) -> list[NDArray[np.float64]]:
    """:func:`adjust_pvalues` for several families of tests at once (one family per array)."""
    out: list[NDArray[np.float64]] = []
    with _cheap_gc():
        for family in families:
            p = np.asarray(family, dtype=np.float64).ravel()
            adjusted = np.full(p.shape, np.nan)
            ok = np.isfinite(p)
            if ok.any():
                adjusted[ok] = multipletests(p[ok], method=method)[1]
            out.append(adjusted)
    return out


def adjust_pvalues(
    p_values: ArrayLike, method: Literal["holm", "fdr_bh", "bonferroni"] = "holm"
) -> NDArray[np.float64]:
    """Multiplicity-adjusted p-values by ``statsmodels.stats.multitest.multipletests(method=method)``.

    NaN entries (tests that could not be run) stay NaN and are not counted in the family.
    """
    return adjust_families([p_values], method)[0]


def kendall_tau_b(reference: ArrayLike, others: ArrayLike) -> NDArray[np.float64]:
    """Kendall's tau-b between ``reference`` (K,) and each row of ``others`` (R, K); NaN if one is constant.

    Same definition as ``scipy.stats.kendalltau`` (variant ``b``): (concordant - discordant) pairs divided by
    the geometric mean of the untied pair counts of each side.
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    oth = np.atleast_2d(np.asarray(others, dtype=np.float64))
    i, j = np.triu_indices(len(ref), k=1)
    s_ref = np.sign(ref[i] - ref[j])
    s_oth = np.sign(oth[:, i] - oth[:, j])
    num = s_oth @ s_ref
    untied_ref = float(np.count_nonzero(s_ref))
    untied_oth = np.count_nonzero(s_oth, axis=1).astype(np.float64)
    den = np.sqrt(untied_ref * untied_oth)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.asarray(tau, dtype=np.float64)
