"""An analytic stand-in for the engine evaluator: per-case scores known in closed form (no model, no images).

Case ``i`` scores ``a[i] - sum_j b[i][j] * x_j ** power`` at normalised parameters ``x_j = (v_j - identity) /
(far - identity)`` in [0, 1]: monotone in every parameter, so the breaking point is known exactly. Every
evaluation is appended to ``log`` (one JSON line per case), so tests can see which trials ran again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robusteval.search.parameters import Dimension
from robusteval.search.trainable import CaseRow, Evaluator


def normalised(dim: Dimension, value: float) -> float:
    return (value - dim.identity) / (dim.far - dim.identity)


@dataclass(frozen=True)
class AnalyticFactory:
    a: tuple[float, ...]
    b: tuple[tuple[float, ...], ...]  # per case, per dimension
    power: float
    log: Path

    @property
    def n_cases(self) -> int:
        return len(self.a)

    def build(self) -> Evaluator:
        return AnalyticEvaluator(self)

    def definition(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "power": self.power}

    def value(self, dims: Sequence[Dimension], values: Sequence[float], index: int) -> float:
        xs = [normalised(d, v) for d, v in zip(dims, values, strict=True)]
        return self.a[index] - sum(float(b * x**self.power) for b, x in zip(self.b[index], xs, strict=False))


class AnalyticEvaluator:
    def __init__(self, factory: AnalyticFactory) -> None:
        self.f = factory

    def evaluate(self, dims: Sequence[Dimension], values: Sequence[float], index: int) -> CaseRow:
        with self.f.log.open("a") as fh:
            fh.write(json.dumps({"values": list(values), "case": index}) + "\n")
        return {
            "case_id": f"case-{index}",
            "value": self.f.value(dims, values, index),
            "status": "ok",
            "error": "",
            "seed": index,
            "shift_params": None,
        }


def evaluations(log: Path) -> list[tuple[tuple[float, ...], int]]:
    """Every logged evaluation as ``(values, case)``."""
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return [(tuple(r["values"]), int(r["case"])) for r in rows]
