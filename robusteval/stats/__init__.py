"""Statistics of a robustness run: CIs, ID-vs-OOD and model-vs-model tests, mixed model, robustness scores.

Entry point: :func:`summarize` (``cases`` table -> dict of record lists); settings: :class:`StatsSettings`.
Methods, defaults and fallbacks are documented in ``docs/statistics.md``.
"""

from __future__ import annotations

__all__ = [
    "CHECKS",
    "OUTPUT_KEYS",
    "CheckSpec",
    "Interval",
    "StatsSettings",
    "bootstrap_intervals",
    "bootstrap_mean_differences",
    "summarize",
]

from robusteval.stats.bootstrap import Interval, bootstrap_intervals, bootstrap_mean_differences
from robusteval.stats.checks import CHECKS
from robusteval.stats.settings import CheckSpec, StatsSettings
from robusteval.stats.summary import OUTPUT_KEYS, summarize
