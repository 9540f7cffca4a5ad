"""Objectives, breaking-point thresholds, the bisection plan and the case bootstrap (pure numpy, no Ray).

A trial's objective is the mean of per-case *scores* over a fixed list of cases: the metric value (``mean``)
or a 0/1 failure indicator (``fraction_failed``). ``lower_is_worse`` says which way damage goes (mean DSC:
lower is worse; fraction failed: higher is worse); the worst-case search minimizes or maximizes accordingly.

Breaking points live on a normalised axis ``t`` in [0, 1] from the identity value (``t = 0``, the clean
case) to the far end of the range (``t = 1``); the parameter value is ``identity + t (far - identity)``.
"""

from __future__ import annotations

__all__ = [
    "FINISHED",
    "BreakRule",
    "ObjectiveRule",
    "bisection_plan",
    "bootstrap_crossings",
    "crossing",
    "grid",
]

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

FINISHED = "finished"
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ObjectiveRule:
    """How one case's result becomes a score, and which way is worse."""

    kind: Literal["mean", "fraction_failed"]
    metric: str
    higher_is_better: bool  # of the metric
    case_threshold: float | None = None
    failed_value: float = 0.0

    @property
    def lower_is_worse(self) -> bool:
        return self.higher_is_better if self.kind == "mean" else False

    @property
    def mode(self) -> Literal["min", "max"]:
        """Tune's mode for the *worst* case."""
        return "min" if self.lower_is_worse else "max"

    def score(self, row: Mapping[str, Any]) -> float:
        """The case's score: its metric value (or ``failed_value``), or 1.0 / 0.0 for failed / passed."""
        raw = row.get("value")
        value = float(raw) if isinstance(raw, int | float) else math.nan
        ok = row.get("status") == "ok" and math.isfinite(value)
        if self.kind == "mean":
            return value if ok else self.failed_value
        if not ok:
            return 1.0
        assert self.case_threshold is not None
        bad = value < self.case_threshold if self.higher_is_better else value > self.case_threshold
        return 1.0 if bad else 0.0

    def worse(self, a: float, b: float) -> bool:
        """Whether objective ``a`` is strictly worse than ``b``."""
        return a < b if self.lower_is_worse else a > b


@dataclass(frozen=True)
class BreakRule:
    """When an objective counts as broken: worse than ``clean -/+ drop`` or worse than ``level``."""

    objective: ObjectiveRule
    kind: Literal["drop", "level"]
    amount: float

    def threshold(self, clean: float) -> float:
        """The objective value that must be crossed (objective units)."""
        if self.kind == "level":
            return self.amount
        return clean - self.amount if self.objective.lower_is_worse else clean + self.amount

    def broken(self, objective: float, clean: float) -> bool:
        return self.objective.worse(objective, self.threshold(clean))


def grid(points: int) -> list[float]:
    """``points`` evenly spaced values of ``t`` in [0, 1] (``t = 0`` first)."""
    return [k / (points - 1) for k in range(points)]


def bisection_plan(
    done: Mapping[float, float], rule: BreakRule, grid_points: int, refine_steps: int
) -> list[float] | str:
    """The values of ``t`` to evaluate next, given the objectives ``done[t]`` so far, or :data:`FINISHED`.

    First the grid (all its points at once), then bisection of ``[t_(k-1), t_k]`` with ``t_k`` the first grid
    point that is broken, ``refine_steps`` times, one point at a time. A pure function of ``done``: the plan
    is the same whatever order the results arrive in, and a restored search continues where it stopped.
    Finished early when no grid point is broken, the clean point is already broken, or a result is NaN.
    """
    ts = grid(grid_points)
    todo = [t for t in ts if t not in done]
    if todo:
        return todo
    if any(math.isnan(v) for v in done.values()):
        return FINISHED
    clean = done[0.0]
    broken = [t for t in ts if rule.broken(done[t], clean)]
    if not broken or broken[0] == 0.0:
        return FINISHED
    hi = broken[0]
    lo = ts[ts.index(hi) - 1]
    for _ in range(refine_steps):
        mid = (lo + hi) / 2
        if mid not in done:
            return [mid]
        if math.isnan(done[mid]):
            return FINISHED
        if rule.broken(done[mid], clean):
            hi = mid
        else:
            lo = mid
    return FINISHED


def _first_crossing(ts: FloatArray, objectives: FloatArray, thresholds: FloatArray, lower_is_worse: bool) -> FloatArray:
    """Per column: the ``t`` where the objective first crosses its threshold (linear between the evaluated
    points), 0 when the first point is already broken, ``inf`` when no point is broken."""
    broken = objectives < thresholds if lower_is_worse else objectives > thresholds
    anyb = broken.any(axis=0)
    j = broken.argmax(axis=0)
    cols = np.arange(objectives.shape[1])
    jp = np.maximum(j - 1, 0)
    y0, y1 = objectives[jp, cols], objectives[j, cols]
    t0, t1 = ts[jp], ts[j]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(y1 != y0, (thresholds - y0) / (y1 - y0), 1.0)
    t = np.where(j == 0, ts[0], t0 + np.clip(frac, 0.0, 1.0) * (t1 - t0))
    return np.where(anyb, t, np.inf)


def crossing(ts: Iterable[float], scores: FloatArray, rule: BreakRule) -> float:
    """The breaking point (in ``t``) from per-case ``scores`` (points x cases) at sorted points ``ts``
    (``ts[0] = 0``, the clean case): the first evaluated point that is broken, interpolated linearly with the
    point before it; ``inf`` when none is broken."""
    t = np.asarray(list(ts), dtype=np.float64)
    objectives = scores.mean(axis=1)[:, None]
    thresholds = np.array([rule.threshold(float(objectives[0, 0]))])
    return float(_first_crossing(t, objectives, thresholds, rule.objective.lower_is_worse)[0])


def bootstrap_crossings(
    ts: Iterable[float], scores: FloatArray, rule: BreakRule, n_resamples: int, seed: int
) -> FloatArray:
    """The breaking point of each case resample (``inf``: none within the range).

    Resample ``b`` takes cases ``default_rng(seed).integers(0, n, size=(n_resamples, n))[b]``, paired across
    the evaluated points (the same cases at every point, the clean one included).
    """
    t = np.asarray(list(ts), dtype=np.float64)
    n = scores.shape[1]
    idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    objectives = scores[:, idx].mean(axis=2)  # points x resamples
    if rule.kind == "level":
        thresholds = np.full(n_resamples, rule.amount)
    else:
        sign = -1.0 if rule.objective.lower_is_worse else 1.0
        thresholds = objectives[0] + sign * rule.amount
    return _first_crossing(t, objectives, thresholds, rule.objective.lower_is_worse)
