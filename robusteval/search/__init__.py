"""Worst-case shift search with Ray Tune: where does each model break? (docs/search.md)

:func:`run_search` runs a protocol's ``search:`` block and returns ``summary["search"]``;
:mod:`robusteval.search.parameters` maps a named physical parameter to a shift's params at a continuous
strength; :mod:`robusteval.search.objective` holds the objective, the bisection plan and the case bootstrap.
Ray is imported only when a search runs.
"""

from robusteval.search.objective import BreakRule, ObjectiveRule
from robusteval.search.parameters import Dimension, condition_at, parameters_of, shift_at, strength_of
from robusteval.search.runner import SearchInterrupted, run_search

__all__ = [
    "BreakRule",
    "Dimension",
    "ObjectiveRule",
    "SearchInterrupted",
    "condition_at",
    "parameters_of",
    "run_search",
    "shift_at",
    "strength_of",
]
