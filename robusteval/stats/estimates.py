"""Shared steps of the statistics records: intervals of means, comparisons and their multiplicity adjustment.

- :func:`mean_intervals`: a cell's (or any per-case quantity's) mean with its interval by ``settings.ci_method``
  (bootstrap-t by default), units = subjects where one contributes several rows (``cluster: auto``).
- :func:`compare_paired` / :func:`compare_two_sample` / :func:`compare_contrast`: the t procedure of
  ``inference.py`` at ``settings.confidence_level`` (Hall's skewness correction when
  ``settings.skew_correction`` is on).
- :func:`comparison_fields`: the record fields of a comparison; :func:`adjust_records`: adjusted p-values and
  the intervals adjusted the same way, within each ``test_family``.
- Flags every record carries: ``small_sample`` (fewer than :data:`SMALL_SAMPLE` independent units: intervals
  may under-cover) and ``clustered`` (some subject contributed several rows: subjects were the units).
"""

from __future__ import annotations

__all__ = [
    "SMALL_SAMPLE",
    "adjust_records",
    "compare_contrast",
    "compare_paired",
    "compare_two_sample",
    "comparison_fields",
    "interval_flags",
    "mean_intervals",
]

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from robusteval.stats.bootstrap import Interval, bootstrap_intervals, bootstrap_t_intervals
from robusteval.stats.frame import alpha_of
from robusteval.stats.hypothesis import adjust_families
from robusteval.stats.inference import Comparison, adjusted_interval, contrast_t, paired_t, two_sample_t
from robusteval.stats.records import Record
from robusteval.stats.settings import MultipleTesting, StatsSettings

SMALL_SAMPLE = 10
"""Below this many independent units an interval is flagged ``small_sample`` (it may under-cover)."""


def _units(settings: StatsSettings, labels: Any) -> Any:
    return None if settings.cluster is None else labels


def mean_intervals(
    samples: Sequence[ArrayLike], clusters: Sequence[ArrayLike | None] | None, settings: StatsSettings
) -> list[Interval]:
    """Interval of each sample's mean by ``settings.ci_method``; ``clusters`` are ignored when not clustering."""
    groups = None if settings.cluster is None else clusters
    if settings.ci_method == "bootstrap-t":
        return bootstrap_t_intervals(
            samples,
            clusters=groups,
            confidence_level=settings.confidence_level,
            n_resamples=settings.n_resamples,
            seed=settings.seed,
        )
    return bootstrap_intervals(
        samples,
        clusters=groups,
        statistics=("mean",),
        confidence_level=settings.confidence_level,
        n_resamples=settings.n_resamples,
        method=settings.ci_method,
        small_sample=settings.small_sample_expansion,
        seed=settings.seed,
        too_few_clusters="cases" if settings.cluster == "site" else "none",
    )["mean"]


def interval_flags(n: int, n_units: int, smallest: int | None = None) -> tuple[Record, list[str]]:
    """``small_sample`` and ``clustered`` fields of an estimate on ``n`` rows from ``n_units`` units, and notes.

    ``smallest``: the units of the smallest independent group (two-sample comparisons), default ``n_units``."""
    notes: list[str] = []
    clustered = 0 < n_units < n
    small_n = n_units if smallest is None else smallest
    small = 0 < small_n < SMALL_SAMPLE
    if clustered:
        notes.append(f"{n} rows from {n_units} subjects: subjects resampled and tested as units (clustered)")
    if small and small_n >= 3:
        notes.append(f"small sample ({small_n} independent units < {SMALL_SAMPLE}): the interval may under-cover")
    return {"clustered": clustered, "small_sample": small}, notes


def compare_paired(differences: ArrayLike, units: ArrayLike | None, settings: StatsSettings) -> Comparison:
    """Paired t on per-case differences, subjects as units when clustering."""
    return paired_t(
        differences,
        _units(settings, units),
        confidence_level=settings.confidence_level,
        skew_correction=settings.skew_correction,
    )


def compare_two_sample(
    x: ArrayLike, y: ArrayLike, x_units: ArrayLike | None, y_units: ArrayLike | None, settings: StatsSettings
) -> Comparison:
    """Welch t on ``mean(y) - mean(x)``, each sample's subjects as units when clustering."""
    return two_sample_t(
        x,
        y,
        _units(settings, x_units),
        _units(settings, y_units),
        confidence_level=settings.confidence_level,
        skew_correction=settings.skew_correction,
    )


def compare_contrast(
    values: Sequence[ArrayLike],
    coefficients: Sequence[float],
    units: Sequence[ArrayLike | None],
    strata: Sequence[Hashable],
    settings: StatsSettings,
) -> Comparison:
    """The general contrast of ``inference.contrast_t`` (rows of one subject share a unit when clustering)."""
    labels = None if settings.cluster is None else list(units)
    return contrast_t(
        values,
        coefficients,
        labels,
        strata,
        confidence_level=settings.confidence_level,
        skew_correction=settings.skew_correction,
    )


def comparison_fields(c: Comparison) -> Record:
    """Record fields of a comparison (the adjusted interval is filled by :func:`adjust_records`)."""
    flags, _ = interval_flags(c.n, c.n_units, c.min_units)
    return {
        "diff": c.estimate,
        "ci_low": c.ci_low,
        "ci_high": c.ci_high,
        "std_error": c.std_error,
        "df": c.df,
        "statistic": c.statistic,
        "p_value": c.p_value,
        "method": c.method,
        "n_units": c.n_units,
        "n_clusters": c.n_units,
        **flags,
        "_comparison": c,
    }


def comparison_note(c: Comparison) -> str:
    """The comparison's own note plus its clustering and small-sample notes."""
    _, notes = interval_flags(c.n, c.n_units, c.min_units)
    return "; ".join(p for p in (c.note, *notes) if p)


def adjust_records(records: list[Record], settings: StatsSettings, correction: MultipleTesting | None = None) -> None:
    """Fill ``p_adjusted``, ``family_size``, ``correction``, ``significant`` and the adjusted interval
    (``ci_adjusted_low``, ``ci_adjusted_high``, ``adjusted_level``: level ``1 - alpha p / p_adjusted``, so it
    excludes 0 exactly when ``significant``) within each ``test_family``; removes the private ``_comparison``."""
    method = correction or settings.multiple_testing
    alpha = alpha_of(settings.confidence_level)
    families: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        families[r["test_family"]].append(r)
    groups = list(families.values())
    pvals = [np.array([np.nan if r["p_value"] is None else r["p_value"] for r in m], dtype=np.float64) for m in groups]
    for members, p, adjusted in zip(groups, pvals, adjust_families(pvals, method), strict=True):
        size = int(np.isfinite(p).sum())
        for r, pa in zip(members, adjusted, strict=True):
            r["p_adjusted"] = float(pa)
            r["family_size"] = size
            r["correction"] = method
            r["significant"] = bool(pa < alpha) if np.isfinite(pa) else None
            c = cast(Comparison | None, r.pop("_comparison", None))
            if c is None:
                continue
            low, high, level = adjusted_interval(c, float(pa), alpha)
            r["ci_adjusted_low"] = low
            r["ci_adjusted_high"] = high
            r["adjusted_level"] = level if math.isfinite(level) else None
