"""Comparisons whose interval and test are one procedure: cluster-robust t contrasts, adjusted intervals, power.

Estimand: a contrast of row means, ``theta = sum_k c_k mean(group k)`` (a paired mean difference is one group
of per-case differences; a two-sample difference is ``mean(y) - mean(x)``; ``ood_drop`` over all OOD rows mixes
rows of the same subjects with rows of others).

Procedure (a t test and the interval that inverts it): the standard error is the cluster-robust (CR1)
linearization ``V = sum_s G_s / (G_s - 1) sum_{u in s} psi_u^2`` with ``psi_u = sum_{rows r of unit u}
c_k (y_r - mean_k) / N_k``, where a unit u is a subject (or a case when no subject repeats) and a stratum s is a
set of independent units sampled apart (the ID subjects; the OOD-site subjects). With one stratum the
reference distribution is Student's t with ``G - 1`` degrees of freedom; with several, Welch-Satterthwaite's
``V^2 / sum_s V_s^2 / (G_s - 1)``. Without repeated subjects and without the skewness correction this is
exactly ``scipy.stats.ttest_1samp`` / ``ttest_rel`` (one group) and ``ttest_ind(equal_var=False)`` (two
groups); with repeated subjects it is the t test of the subject-clustered sandwich variance (Cameron & Miller
2015, CR1 with G - 1 df; statsmodels' ``cov_type="cluster"``).

Skewness (``skew_correction``, off by default): Hall's (1992) monotone transformation of the t statistic,
``g(t) = t + a t^2 + a^2 t^3 / 3 + b`` with ``a = k / 3``, ``b = k / 6`` and ``k = sum psi^3 / (sum psi^2)^(3/2)``
the estimated skewness of the estimate (``gamma / sqrt(n)`` for a mean of n cases), removes the first-order
effect of skewness on the t statistic; ``g(t)`` is referred to the same t distribution. On skewed paired
differences it brings the type-I error of a level-0.05 paired t at n = 6 from 9% to 7%, but at the levels a
multiplicity adjustment demands (|t| near 4) the ``a t^2`` term magnifies the noise of the skewness estimate
and costs power (n = 10, alpha / 7: 75% instead of 85%; docs/statistics.md), so it is an option, not the
default. ``skew_correction=False`` is Student's (Welch's) t exactly.

Interval and test agree by construction: the level-(1 - g) interval ``{theta0: |g((theta - theta0) / SE)| <=
t_{df, 1 - g/2}}`` = ``[theta - g^-1(q) SE, theta - g^-1(-q) SE]`` excludes 0 exactly when the two-sided p-value
``2 P(T_df > |g(theta / SE)|)`` is below g. Multiplicity: :func:`adjusted_interval` widens the interval of a
test by the factor its adjusted p-value applied, level ``1 - alpha p / p_adj``, so the adjusted interval
excludes 0 exactly when ``p_adj < alpha`` (for Bonferroni this is the usual 1 - alpha/m interval; for Holm the
step's level). Power: :func:`power_t` and :func:`minimum_detectable` use the noncentral t of the same test.
"""

from __future__ import annotations

__all__ = [
    "MIN_UNITS",
    "Comparison",
    "adjusted_interval",
    "contrast_t",
    "minimum_detectable",
    "paired_t",
    "power_t",
    "rank_test_floor",
    "two_sample_t",
    "units_needed",
]

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special

MIN_UNITS = 3
"""Fewest independent units (subjects, or cases) in each stratum for an interval or a test."""


@dataclass(frozen=True)
class Comparison:
    """A contrast's estimate, its cluster-robust t test and the interval that inverts the test.

    ``n``: rows (cases) used; ``n_units``: independent units (subjects when some repeat, else cases; summed over
    strata); ``clustered``: whether some unit contributed several rows (then units were the resampling and
    testing units). ``method``: ``t`` (one stratum), ``welch-t`` (several), ``degenerate`` (no variation) or
    ``none`` (not computed; ``note`` says why). NaN where undefined. ``skewness``: the estimated skewness k of
    the estimate used by Hall's correction (0 without it); ``statistic`` is the corrected ``g(t)``.
    """

    estimate: float
    std_error: float
    df: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence_level: float
    n: int
    n_units: int
    clustered: bool
    method: str
    note: str
    unit_variances: tuple[tuple[float, int], ...] = ()
    skewness: float = 0.0

    @property
    def testable(self) -> bool:
        return math.isfinite(self.p_value)

    @property
    def min_units(self) -> int:
        """Independent units of the smallest stratum (all units with one stratum)."""
        return min((g for _, g in self.unit_variances), default=self.n_units)


def _none(estimate: float, n: int, n_units: int, clustered: bool, level: float, note: str) -> Comparison:
    nan = math.nan
    return Comparison(estimate, nan, nan, nan, nan, nan, nan, level, n, n_units, clustered, "none", note)


def contrast_t(
    values: Sequence[ArrayLike],
    coefficients: Sequence[float],
    units: Sequence[ArrayLike | None] | None = None,
    strata: Sequence[Hashable] | None = None,
    *,
    confidence_level: float = 0.95,
    skew_correction: bool = False,
) -> Comparison:
    """Cluster-robust t test and interval of ``sum_k coefficients[k] * mean(values[k])`` (module doc).

    ``units[k]``: the unit (subject) label of each row of group k (``None``: each row its own unit, never shared
    with another group). ``strata[k]``: the stratum of group k's units (default: one stratum for all); a unit
    appearing in two strata merges all into one (with a note). Each stratum needs ``MIN_UNITS`` units, or no
    interval and test are given.
    """
    k = len(values)
    if len(coefficients) != k:
        raise ValueError(f"{k} groups but {len(coefficients)} coefficients")
    arrays = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    level = float(confidence_level)
    n = sum(len(a) for a in arrays)
    if any(len(a) == 0 for a in arrays):
        return _none(math.nan, n, 0, False, level, "a group has no values")
    means = [float(a.mean()) for a in arrays]
    estimate = float(sum(c * m for c, m in zip(coefficients, means, strict=True)))
    stratum_ids = list(strata) if strata is not None else [0] * k
    codes = {s: i for i, s in enumerate(dict.fromkeys(stratum_ids))}
    contrib = np.concatenate([c * (a - m) / len(a) for a, c, m in zip(arrays, coefficients, means, strict=True)])
    row_stratum = np.concatenate(
        [np.full(len(a), codes[s], dtype=np.intp) for a, s in zip(arrays, stratum_ids, strict=True)]
    )
    labels: list[str] = []
    for g, a in enumerate(arrays):
        raw = None if units is None else units[g]
        if raw is None:
            labels.extend(f"\x00row:{g}:{i}" for i in range(len(a)))
        else:
            arr = np.asarray(raw)
            if arr.shape != a.shape:
                raise ValueError(f"group {g}: {arr.size} unit labels for {len(a)} values")
            labels.extend(str(x) for x in arr.tolist())
    _, unit_code, rows_per_unit = np.unique(np.asarray(labels, dtype=object), return_inverse=True, return_counts=True)
    unit_code = unit_code.ravel()
    n_units = len(rows_per_unit)
    unit_stratum = np.full(n_units, -1, dtype=np.intp)
    unit_stratum[unit_code] = row_stratum
    merged = ""
    if not np.array_equal(unit_stratum[unit_code], row_stratum):
        # a subject in two samples (e.g. scanned at two sites): the samples are not independent; one stratum
        merged = "some subjects are in both samples: one stratum (G - 1 df), their rows resampled together"
        codes = {0: 0}
        row_stratum[:] = 0
        unit_stratum[:] = 0
    psi = np.bincount(unit_code, weights=contrib, minlength=n_units)
    clustered = bool(np.any(rows_per_unit > 1))
    units_in = np.bincount(unit_stratum, minlength=len(codes))
    stratum_units = {s: int(units_in[i]) for s, i in codes.items()}
    few = {s: g for s, g in stratum_units.items() if g < MIN_UNITS}
    if few:
        what = "subjects" if clustered else "cases"
        sizes = " and ".join(str(v) for v in few.values())
        return _none(
            estimate,
            n,
            n_units,
            clustered,
            level,
            f"{sizes} independent {what}: too few for an interval or a test (at least {MIN_UNITS} needed)",
        )
    sq = np.bincount(unit_stratum, weights=psi**2, minlength=len(codes))
    parts = [(int(units_in[i]) / (int(units_in[i]) - 1) * float(sq[i]), int(units_in[i])) for i in codes.values()]
    variance = sum(v for v, _ in parts)
    scale = max(abs(estimate), *(abs(m) for m in means), 1e-300)
    if variance <= (64 * np.finfo(np.float64).eps * scale) ** 2:
        zero = estimate == 0.0 or abs(estimate) <= 64 * np.finfo(np.float64).eps * scale
        note = (
            "no variation: every difference is zero (p = 1)"
            if zero
            else "no variation between units: the difference is exact, no test"
        )
        return Comparison(
            0.0 if zero else estimate,
            0.0,
            math.nan,
            math.nan,
            1.0 if zero else math.nan,
            0.0 if zero else estimate,
            0.0 if zero else estimate,
            level,
            n,
            n_units,
            clustered,
            "degenerate",
            note,
            tuple(parts),
        )
    se = math.sqrt(variance)
    skew = 0.0
    if skew_correction:
        m2 = float(np.sum(psi**2))
        skew = float(np.sum(psi**3)) / m2**1.5 if m2 > 0 else 0.0
    out = _finish(estimate, se, parts, level, n, n_units, clustered, skew)
    return replace(out, note=merged) if merged else out


def _g(t: float, skew: float) -> float:
    """Hall's (1992) monotone skewness correction of a t statistic (``skew``: the estimate's skewness k)."""
    a, b = skew / 3.0, skew / 6.0
    return t + a * t * t + a * a * t**3 / 3.0 + b


def _g_inverse(y: float, skew: float) -> float:
    """The inverse of :func:`_g` (g is increasing: its derivative is (1 + a t)^2)."""
    a, b = skew / 3.0, skew / 6.0
    if abs(a) < 1e-12:
        return y - b
    return (float(np.cbrt(1.0 + 3.0 * a * (y - b))) - 1.0) / a


def _bounds(estimate: float, se: float, df: float, gamma: float, skew: float) -> tuple[float, float]:
    """The interval of level 1 - gamma that inverts the (skewness-corrected) t test."""
    q = float(special.stdtrit(df, 1.0 - gamma / 2.0))
    return estimate - _g_inverse(q, skew) * se, estimate - _g_inverse(-q, skew) * se


def _finish(
    estimate: float,
    se: float,
    parts: list[tuple[float, int]],
    level: float,
    n: int,
    n_units: int,
    clustered: bool,
    skew: float,
) -> Comparison:
    df = _satterthwaite(parts)
    t = _g(estimate / se, skew)
    p = float(min(1.0, 2.0 * special.stdtr(df, -abs(t))))
    low, high = _bounds(estimate, se, df, 1.0 - level, skew)
    method = (
        ("t" if len(parts) == 1 else "welch-t") if skew == 0.0 else ("hall-t" if len(parts) == 1 else "hall-welch-t")
    )
    return Comparison(estimate, se, df, t, p, low, high, level, n, n_units, clustered, method, "", tuple(parts), skew)


def _satterthwaite(parts: Sequence[tuple[float, int]]) -> float:
    total = sum(v for v, _ in parts)
    den = sum(v**2 / (g - 1) for v, g in parts)
    return float(total**2 / den) if den > 0 else float(sum(g for _, g in parts) - 1)


def paired_t(
    differences: ArrayLike,
    units: ArrayLike | None = None,
    *,
    confidence_level: float = 0.95,
    skew_correction: bool = False,
) -> Comparison:
    """Mean of paired differences (e.g. shifted - clean per case), clustered by ``units`` when given.

    Without repeated units and ``skew_correction=False``: ``scipy.stats.ttest_1samp(differences, 0)`` and its
    ``confidence_interval``."""
    units_ = None if units is None else [units]
    return contrast_t([differences], [1.0], units_, confidence_level=confidence_level, skew_correction=skew_correction)


def two_sample_t(
    x: ArrayLike,
    y: ArrayLike,
    x_units: ArrayLike | None = None,
    y_units: ArrayLike | None = None,
    *,
    confidence_level: float = 0.95,
    skew_correction: bool = False,
) -> Comparison:
    """``mean(y) - mean(x)`` of independent samples, Welch (Satterthwaite df), each clustered by its units.

    Without repeated units and ``skew_correction=False``: ``scipy.stats.ttest_ind(y, x, equal_var=False)``."""
    units = None if x_units is None and y_units is None else [x_units, y_units]
    return contrast_t(
        [x, y], [-1.0, 1.0], units, ["x", "y"], confidence_level=confidence_level, skew_correction=skew_correction
    )


def adjusted_interval(comparison: Comparison, p_adjusted: float, alpha: float) -> tuple[float, float, float]:
    """(low, high, level) of the interval adjusted as the p-value was: level ``1 - alpha * p / p_adjusted``.

    The interval excludes 0 exactly when ``p_adjusted < alpha``. NaN when the comparison has no test.
    """
    c = comparison
    p = c.p_value
    if not (math.isfinite(p) and math.isfinite(p_adjusted)):
        return math.nan, math.nan, math.nan
    if c.method == "degenerate":
        return c.ci_low, c.ci_high, math.nan
    gamma = alpha if p_adjusted <= 0.0 or p <= 0.0 else alpha * min(1.0, p / p_adjusted)
    low, high = _bounds(c.estimate, c.std_error, c.df, gamma, c.skewness)
    return low, high, 1.0 - gamma


def power_t(difference: float, std_error: float, df: float, alpha: float) -> float:
    """Power of the two-sided level-``alpha`` t test against a true ``difference`` (noncentral t)."""
    if not (std_error > 0 and df > 0 and math.isfinite(df)):
        return math.nan
    crit = float(special.stdtrit(df, 1.0 - alpha / 2.0))
    return _two_sided_power(crit, df, abs(difference) / std_error)


def _two_sided_power(crit: float, df: float, ncp: float) -> float:
    """P(|T| > crit) for T noncentral t (df, ncp >= 0); the far tail underflows to NaN in scipy: it is 0."""
    upper = 1.0 - float(special.nctdtr(df, ncp, crit))
    lower = float(special.nctdtr(df, ncp, -crit))
    return upper + (lower if math.isfinite(lower) else 0.0)


def minimum_detectable(std_error: float, df: float, alpha: float, power: float = 0.8) -> float:
    """Smallest true difference the two-sided level-``alpha`` t test detects with ``power`` (metric units)."""
    if not (std_error > 0 and df > 0 and math.isfinite(df)):
        return math.nan
    crit = float(special.stdtrit(df, 1.0 - alpha / 2.0))

    def gap(ncp: float) -> float:
        return _two_sided_power(crit, df, ncp) - power

    hi = crit + 10.0
    while gap(hi) < 0:
        hi *= 2.0
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-10)) * std_error


def units_needed(
    comparison: Comparison, difference: float, alpha: float, power: float = 0.8, limit: int = 100_000
) -> int | None:
    """Fewest units (subjects or cases) of the first stratum for which the test detects ``difference`` with
    ``power``, every stratum grown in proportion and each unit as variable as now. ``None`` beyond ``limit``."""
    parts = comparison.unit_variances
    if not parts or not all(v > 0 for v, _ in parts):
        return None
    first = parts[0][1]

    def ok(n_first: int) -> bool:
        f = n_first / first
        scaled = [(v / f, max(round(g * f), 2)) for v, g in parts]
        se = math.sqrt(sum(v for v, _ in scaled))
        return power_t(difference, se, _satterthwaite(scaled), alpha) >= power

    if ok(first):
        lo, hi = MIN_UNITS - 1, first
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid
        return max(hi, MIN_UNITS)
    lo, hi = first, first * 2
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > limit:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def rank_test_floor(n_units: int, n_other: int | None = None) -> float:
    """Smallest two-sided p-value an exact rank test can reach: Wilcoxon signed-rank on ``n_units`` paired
    units (``2 / 2**n``), or Mann-Whitney U on groups of ``n_units`` and ``n_other`` (``2 / C(n1 + n2, n1)``)."""
    if n_units <= 0:
        return math.nan
    if n_other is None:
        return min(1.0, 2.0 / 2.0**n_units)
    return min(1.0, 2.0 / float(special.comb(n_units + n_other, n_units, exact=True)))
