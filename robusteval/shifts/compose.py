"""Conditions: one shift or several applied in order, each step's parameters sampled once and recorded."""

from __future__ import annotations

__all__ = ["Condition", "apply_condition", "sample_condition", "seed_for"]

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts.base import SHIFTS, Shift


@dataclass(frozen=True)
class Condition:
    """A named sequence of shifts. ``severities[i]`` fixes step i's severity (None: the condition's)."""

    name: str
    steps: tuple[Shift, ...]
    severities: tuple[int | None, ...]

    @classmethod
    def build(cls, name: str, steps: Sequence[tuple[str, dict[str, Any], int | None]]) -> Condition:
        shifts = tuple(SHIFTS.get(shift)(**options) for shift, options, _ in steps)
        return cls(name=name, steps=shifts, severities=tuple(s for _, _, s in steps))

    @property
    def family(self) -> str:
        """The family of the last step that is not a scanner/site re-acquisition (for grouping in stats)."""
        return self.steps[-1].family

    def touches_label_only(self) -> bool:
        return all(s.touches.value == "label" for s in self.steps)


def seed_for(*parts: object) -> int:
    """A stable 63-bit seed from any JSON-able parts (independent of Python's hash randomization)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def sample_condition(condition: Condition, severity: int, seed: int) -> list[dict[str, Any]]:
    """Parameters for every step, drawn once from ``seed`` (step i uses its own child stream)."""
    children = np.random.SeedSequence(seed).spawn(len(condition.steps))
    return [
        shift.sample(fixed if fixed is not None else severity, np.random.default_rng(child))
        for shift, fixed, child in zip(condition.steps, condition.severities, children, strict=True)
    ]


def apply_condition(case: Case, condition: Condition, params: Sequence[dict[str, Any]]) -> Case:
    """Apply the steps in order with the recorded parameters (deterministic)."""
    for shift, p in zip(condition.steps, params, strict=True):
        case = shift.apply(case, p)
    return case
