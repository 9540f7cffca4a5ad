"""The Tune trainable: one trial = one parameter point, evaluated case by case with the engine's machinery.

The model is loaded once per trial actor (``setup``; actors are reused across trials via ``reset_config``).
Each ``step`` evaluates the next case of the fixed list (shift with the recorded seed, predict, score through
:func:`robusteval.engine.work.evaluate_case`) and reports the running objective, so ASHA can stop a harmless
trial after a few cases. Every step is checkpointed (the per-case rows), so a restored trial resumes.
"""

from __future__ import annotations

__all__ = [
    "CaseRow",
    "EngineEvaluatorFactory",
    "Evaluator",
    "EvaluatorFactory",
    "SearchTrainable",
    "case_seed",
]

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ray import tune

from robusteval.data.case import CaseRecord
from robusteval.engine.base import ModelSpecLite, load_models
from robusteval.engine.plan import WorkItem
from robusteval.engine.work import ModelRuntime, evaluate_case
from robusteval.metrics import MetricConfig
from robusteval.search.objective import ObjectiveRule
from robusteval.search.parameters import Dimension, condition_at
from robusteval.shifts.compose import seed_for

CaseRow = dict[str, Any]  # case_id, value, status, error, seed, shift_params (+ score, added by the trainable)


class Evaluator(Protocol):
    """Evaluates one case at one parameter point."""

    def evaluate(self, dims: Sequence[Dimension], values: Sequence[float], index: int) -> CaseRow:
        """The row of case ``index`` under ``dims`` at ``values``: ``case_id``, ``value`` (the metric),
        ``status`` (``ok`` or why not), ``error``, ``seed`` and ``shift_params`` (the sampled parameters)."""
        ...


class EvaluatorFactory(Protocol):
    """Builds an :class:`Evaluator` inside a trial actor (shipped to it by pickling)."""

    @property
    def n_cases(self) -> int: ...

    def build(self) -> Evaluator: ...

    def definition(self) -> dict[str, Any]:
        """What the evaluation depends on, JSON-able (a changed definition refuses to restore a search)."""
        ...


def case_seed(seed: int, case_id: str, dims: Sequence[Dimension]) -> int:
    """The shift seed of a case: independent of the parameter values (common random numbers)."""
    return seed_for(seed, case_id, "search", [[d.shift, d.options] for d in dims])


class _EngineEvaluator:
    def __init__(self, factory: EngineEvaluatorFactory) -> None:
        import torch

        torch.set_num_threads(factory.threads)
        self.f = factory
        self.models: list[ModelRuntime] = load_models([factory.model], factory.base_dir, factory.device)

    def evaluate(self, dims: Sequence[Dimension], values: Sequence[float], index: int) -> CaseRow:
        record = self.f.records[index]
        condition = condition_at(dims, values)
        seed = case_seed(self.f.seed, record.case_id, dims)
        item = WorkItem(record=record, case_split="id", condition=condition.name, severity=1, seed=seed)
        row = evaluate_case([item], {condition.name: condition}, self.models, [self.f.metric], self.f.metric_config)[0]
        value = row.get(self.f.metric)
        params = row.get("shift_params") or ""
        return {
            "case_id": record.case_id,
            "value": None if value is None else float(value),
            "status": str(row["status"]),
            "error": str(row.get("error") or ""),
            "seed": seed,
            "shift_params": json.loads(params) if params else None,
        }


@dataclass(frozen=True)
class EngineEvaluatorFactory:
    """The real evaluation: one model (loaded once per actor), the fixed case records, one metric."""

    model: ModelSpecLite
    records: tuple[CaseRecord, ...]
    base_dir: Path
    device: str
    threads: int
    metric: str
    metric_config: MetricConfig
    seed: int

    @property
    def n_cases(self) -> int:
        return len(self.records)

    def build(self) -> Evaluator:
        return _EngineEvaluator(self)

    def definition(self) -> dict[str, Any]:
        return {
            "model": [self.model.name, self.model.adapter, self.model.params],
            "cases": [r.case_id for r in self.records],
            "metric": self.metric,
            "metric_config": repr(self.metric_config),
            "seed": self.seed,
        }


class SearchTrainable(tune.Trainable):
    """One trial: ``config[dim.key]`` for every dimension; one case per step; reports ``objective`` (mean
    score so far), ``cases_done`` and ``per_case`` (every row so far)."""

    def setup(  # type: ignore[override]
        self,
        config: dict[str, Any],
        factory: EvaluatorFactory,
        dims: Sequence[Dimension],
        rule: ObjectiveRule,
    ) -> None:
        self._evaluator = factory.build()
        self._n = factory.n_cases
        self._dims, self._rule = list(dims), rule
        self._begin(config)

    def _begin(self, config: dict[str, Any]) -> None:
        self._values = [float(config[d.key]) for d in self._dims]
        self._rows: list[CaseRow] = []

    def step(self) -> dict[str, Any]:
        row = self._evaluator.evaluate(self._dims, self._values, len(self._rows))
        row["score"] = self._rule.score(row)
        self._rows.append(row)
        scores = [float(r["score"]) for r in self._rows]
        return {
            "objective": sum(scores) / len(scores),
            "cases_done": len(self._rows),
            "per_case": list(self._rows),
            "done": len(self._rows) >= self._n,
        }

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any]:
        return {"rows": list(self._rows)}

    def load_checkpoint(self, checkpoint: dict[str, Any] | str | None) -> None:
        if isinstance(checkpoint, dict):
            self._rows = list(checkpoint["rows"])

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        self._begin(new_config)
        return True
