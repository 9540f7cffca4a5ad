"""Independent reference implementations the statistics tests compare against (built on scipy)."""

from __future__ import annotations

__all__ = ["hall_reference"]

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def hall_reference(differences: ArrayLike, level: float = 0.95) -> tuple[float, float, float]:
    """(p, low, high) of Hall's (1992) skewness-corrected one-sample t on ``differences``, from scipy's t
    statistic and sample skewness: ``g(t) = t + a t^2 + a^2 t^3 / 3 + b``, ``a = k / 3``, ``b = k / 6``,
    ``k = skew / sqrt(n)``; the interval is the set of means whose corrected |g| stays below the t quantile."""
    d = np.asarray(differences, dtype=np.float64)
    n = len(d)
    k = float(stats.skew(d, bias=True)) / math.sqrt(n)
    a, b = k / 3, k / 6
    se = float(stats.sem(d))

    def g(t: float) -> float:
        return t + a * t * t + a * a * t**3 / 3 + b

    t = float(stats.ttest_1samp(d, 0.0).statistic)
    p = float(2 * stats.t.sf(abs(g(t)), n - 1))
    q = float(stats.t.ppf(0.5 + level / 2, n - 1))
    # invert g numerically (it is increasing): the interval of means mu with -q <= g((mean - mu) / se) <= q
    from scipy.optimize import brentq

    lo_t = brentq(lambda x: g(x) + q, -1e3, 1e3)
    hi_t = brentq(lambda x: g(x) - q, -1e3, 1e3)
    return p, float(d.mean() - hi_t * se), float(d.mean() - lo_t * se)
