"""A Ray Tune ``Searcher`` that runs :func:`robusteval.search.objective.bisection_plan` as trials."""

from __future__ import annotations

__all__ = ["BisectionSearcher"]

import math
import pickle
from typing import Any, cast

from ray.tune.search import Searcher

from robusteval.search.objective import FINISHED, BreakRule, bisection_plan
from robusteval.search.parameters import Dimension


class BisectionSearcher(Searcher):
    """Grid then bisection over one dimension; each suggestion is ``{dim.key: value}``.

    State (saved with the experiment, so ``Tuner.restore`` continues): the objectives of finished points,
    by ``t``, and the points in flight, by trial id. A trial without a complete result counts as NaN, which
    ends the search (reported as incomplete).
    """

    def __init__(self, dim: Dimension, rule: BreakRule, grid_points: int, refine_steps: int, n_cases: int) -> None:
        super().__init__()
        self.dim, self.rule = dim, rule
        self.grid_points, self.refine_steps, self.n_cases = grid_points, refine_steps, n_cases
        self.done: dict[float, float] = {}
        self.pending: dict[str, float] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any) -> bool:
        """Accept Tune's metric and mode (the points come from the plan, not from ``config``)."""
        self._metric, self._mode = metric, mode
        return True

    def value_of(self, t: float) -> float:
        """The parameter value at ``t`` (0: identity, 1: the far end)."""
        return float(self.dim.identity + t * (self.dim.far - self.dim.identity))

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        plan = bisection_plan(self.done, self.rule, self.grid_points, self.refine_steps)
        if plan == FINISHED:
            # Tune's sentinel string, typed by Ray as a config
            return cast(dict[str, Any], Searcher.FINISHED) if not self.pending else None
        assert isinstance(plan, list)
        free = [t for t in plan if t not in self.pending.values()]
        if not free:
            return None  # wait for the points in flight
        self.pending[trial_id] = free[0]
        return {self.dim.key: self.value_of(free[0]), "t": free[0]}

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        t = self.pending.pop(trial_id, None)
        if t is None:
            return
        complete = result is not None and not error and int(result.get("cases_done", 0)) >= self.n_cases
        self.done[t] = float(result["objective"]) if complete and result is not None else math.nan

    def get_state(self) -> dict[str, Any]:
        return {"done": dict(self.done), "pending": dict(self.pending)}

    def set_state(self, state: dict[str, Any]) -> None:
        self.done, self.pending = dict(state["done"]), dict(state["pending"])

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))
