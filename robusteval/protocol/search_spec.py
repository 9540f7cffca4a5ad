"""The protocol's ``search:`` block: worst-case shift search with Ray Tune (see docs/search.md).

Kept out of ``schema.py`` so the search code can grow without touching the core schema; ``Protocol.search``
holds a :class:`SearchSpec`. Shift names, parameter names and ranges are checked against
:mod:`robusteval.search.parameters` (imported when a block is validated).
"""

from __future__ import annotations

__all__ = [
    "MAX_RESAMPLES",
    "BreakingPointSpec",
    "ObjectiveSpec",
    "SearchDimensionSpec",
    "SearchSpec",
    "WorstCaseSpec",
]

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robusteval.errors import RobustEvalError

MAX_RESAMPLES = 100_000
"""Upper bound of every ``n_resamples`` of a protocol (``statistics``, the search's breaking point): past it
the bootstrap's arrays outgrow a workstation's memory, and no digit a report shows gets more precise."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SearchDimensionSpec(_Spec):
    """One searched shift parameter. ``parameter`` is ``severity`` (continuous, 0..5) or a monotone column of
    the shift's severity table (default: the first, e.g. ``degrees_bound`` for motion); ``range`` is
    ``[low, high]`` in the parameter's units, within its documented range (default: the whole range)."""

    shift: str
    parameter: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    range: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _known(self) -> SearchDimensionSpec:
        from robusteval.search.parameters import resolve_dimension

        try:
            resolve_dimension(self.shift, self.parameter, dict(self.options), self.range, key="check")
        except (RobustEvalError, TypeError) as exc:
            raise ValueError(str(exc)) from None
        return self


class ObjectiveSpec(_Spec):
    """What a trial measures on a fixed subset of in-distribution cases.

    ``mean``: the mean of ``metric`` (a failed or undefined case counts as ``failed_value``);
    ``fraction_failed``: the fraction of cases whose ``metric`` is worse than ``case_threshold`` (or failed).
    """

    kind: Literal["mean", "fraction_failed"] = "mean"
    metric: str = "dsc"
    case_threshold: float | None = Field(default=None, description="per-case failure threshold (fraction_failed)")
    failed_value: float = Field(default=0.0, description="metric value of a failed or undefined case (mean)")
    cases: int = Field(default=4, ge=1, description="the first N in-distribution cases, by case id")
    case_ids: list[str] | None = Field(default=None, min_length=1, description="explicit case ids instead")

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        from robusteval.metrics import METRICS

        if v not in METRICS:
            raise ValueError(f"unknown metric {v!r}; known: {', '.join(METRICS.names())}")
        return v

    @model_validator(mode="after")
    def _threshold(self) -> ObjectiveSpec:
        if (self.kind == "fraction_failed") != (self.case_threshold is not None):
            raise ValueError("give 'case_threshold' exactly when kind is 'fraction_failed'")
        return self


class BreakingPointSpec(_Spec):
    """Per shift, the mildest parameter value at which the objective is worse than a threshold.

    Threshold: ``drop`` (worse than the clean objective by more than this, in objective units) or ``level``
    (worse than this absolute objective). Search: ``grid_points`` evenly spaced values from the identity to
    the far end of the range, then ``refine_steps`` bisections of the first bracket that crosses; resolution
    ``|far - identity| / (grid_points - 1) / 2**refine_steps``. Uncertainty: percentile bootstrap over cases.
    """

    shifts: list[SearchDimensionSpec] = Field(min_length=1)
    drop: float | None = Field(default=None, gt=0)
    level: float | None = None
    grid_points: int = Field(default=5, ge=2, le=101)
    refine_steps: int = Field(default=3, ge=0, le=20)
    n_resamples: int = Field(default=1000, ge=100, le=MAX_RESAMPLES)
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1.0)

    @model_validator(mode="after")
    def _one_threshold(self) -> BreakingPointSpec:
        if self.drop is not None and self.level is not None:
            raise ValueError("give one of 'drop' or 'level', not both")
        return self

    @model_validator(mode="after")
    def _from_identity(self) -> BreakingPointSpec:
        from robusteval.search.parameters import resolve_dimension

        for i, d in enumerate(self.shifts):
            dim = resolve_dimension(d.shift, d.parameter, dict(d.options), d.range, key="check")
            if dim.identity not in (dim.low, dim.high):
                raise ValueError(
                    f"shifts[{i}]: a breaking-point range must start at the identity value {dim.identity} "
                    f"of {d.shift}.{dim.parameter}; got [{dim.low}, {dim.high}]"
                )
        return self

    @property
    def threshold(self) -> tuple[Literal["drop", "level"], float]:
        """``("drop", 0.1)`` by default."""
        if self.level is not None:
            return ("level", self.level)
        return ("drop", 0.1 if self.drop is None else self.drop)


class WorstCaseSpec(_Spec):
    """The most damaging combination of ``space`` (applied in the listed order) within the budget."""

    space: list[SearchDimensionSpec] = Field(min_length=1)
    algorithm: Literal["random", "optuna"] = Field(
        default="optuna", description="random: Tune's seeded random search; optuna: seeded TPE (OptunaSearch)"
    )
    initial_random: int = Field(default=5, ge=1, description="optuna: random trials before TPE takes over")
    scheduler: Literal["fifo", "asha"] = Field(
        default="asha", description="asha: stop trials that look harmless after a few cases"
    )
    grace_cases: int = Field(default=1, ge=1, description="asha: cases every trial runs before it may stop")
    reduction_factor: int = Field(default=2, ge=2)
    num_samples: int = Field(default=20, ge=1, description="trials")
    time_budget_s: float | None = Field(default=None, gt=0, description="wall-clock limit per invocation, s")

    @field_validator("space")
    @classmethod
    def _each_shift_once(cls, v: list[SearchDimensionSpec]) -> list[SearchDimensionSpec]:
        names = [d.shift for d in v]
        if len(set(names)) != len(names):
            raise ValueError(f"each shift may appear once in the space; got {names}")
        return v


class SearchSpec(_Spec):
    """``search:``: where each model breaks (per-shift breaking points) and what hurts it most."""

    models: list[str] | None = Field(default=None, min_length=1, description="default: every model")
    seed: int | None = Field(default=None, ge=0, description="default: the protocol's seed")
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    breaking_point: BreakingPointSpec | None = None
    worst_case: WorstCaseSpec | None = None
    max_concurrent_trials: int = Field(
        default=1,
        ge=1,
        description="1 keeps model-based search and ASHA deterministic; more trades that for speed",
    )

    @model_validator(mode="after")
    def _something(self) -> SearchSpec:
        if self.breaking_point is None and self.worst_case is None:
            raise ValueError("give 'breaking_point', 'worst_case' or both")
        return self
