"""Statistics of a robustness run: CIs, ID-vs-OOD and model-vs-model tests, mixed model, robustness scores.

Entry point: :func:`summarize` (``cases`` table -> dict of record lists); settings: :class:`StatsSettings`.
Methods, defaults and fallbacks are documented in ``docs/statistics.md``.
"""

from __future__ import annotations

__all__ = [
    "CHECKS",
    "OUTPUT_KEYS",
    "CheckSpec",
    "Comparison",
    "Interval",
    "PrimarySpec",
    "StatsSettings",
    "adjusted_interval",
    "bootstrap_intervals",
    "bootstrap_mean_differences",
    "bootstrap_t_intervals",
    "contrast_t",
    "minimum_detectable",
    "paired_t",
    "power_t",
    "primary_questions",
    "summarize",
    "two_sample_t",
    "units_needed",
]

from robusteval.stats.bootstrap import (
    Interval,
    bootstrap_intervals,
    bootstrap_mean_differences,
    bootstrap_t_intervals,
)
from robusteval.stats.checks import CHECKS
from robusteval.stats.inference import (
    Comparison,
    adjusted_interval,
    contrast_t,
    minimum_detectable,
    paired_t,
    power_t,
    two_sample_t,
    units_needed,
)
from robusteval.stats.settings import CheckSpec, PrimarySpec, StatsSettings
from robusteval.stats.summary import OUTPUT_KEYS, primary_questions, summarize
