"""Orientation: the array axes stored in another order (header updated to match)."""

from __future__ import annotations

__all__ = ["PermuteAxes"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, reject_unknown
from robusteval.shifts._orientation import parse_axes, reorient
from robusteval.shifts.base import SHIFTS, ShiftOptionError, Touches


class PermuteAxes(TabledShift):
    """New array axis j is old axis ``order[j]`` (option; default ``[1, 0, 2]``; not the identity), for
    images, label and ignore, the affine updated so world positions are unchanged. Severity is ignored:
    every severity 1..5 permutes (0 is the identity)."""

    name = "permute_axes"
    doc = "Orientation: array axes transposed to `order` (default [1, 0, 2]), affine consistent; severity-independent."
    family = "orientation"
    touches = Touches.IMAGE_AND_LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"permuted": True} for s in range(1, 6)}
    identity: ClassVar[dict[str, Any]] = {"permuted": False}

    def __init__(self, *, order: list[int] | None = None, **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["order"])
        self.order = parse_axes(self.name, "order", [1, 0, 2] if order is None else order, size=3)
        if self.order == [0, 1, 2]:
            raise ShiftOptionError(f"shift {self.name!r}: option 'order' must not be the identity [0, 1, 2]")

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        return {**lvl, "order": list(self.order) if lvl["permuted"] else [0, 1, 2]}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        return reorient(case, params["order"], [], keep_header=False)


SHIFTS.add(PermuteAxes.name, PermuteAxes)
