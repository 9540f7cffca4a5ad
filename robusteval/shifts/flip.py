"""Orientation: the volume stored flipped along one array axis (header updated to match)."""

from __future__ import annotations

__all__ = ["Flip"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, check_int, reject_unknown
from robusteval.shifts._orientation import reorient
from robusteval.shifts.base import SHIFTS, Touches


class Flip(TabledShift):
    """Images, label and ignore reversed along array axis ``axis`` (option; default 0, left-right in RAS),
    the affine updated so world positions are unchanged: a model that reads the raw array sees a mirrored
    head. Severity is ignored: every severity 1..5 flips (0 is the identity)."""

    name = "flip"
    doc = "Orientation: the arrays flipped along `axis` (default 0), affine kept consistent; severity-independent."
    family = "orientation"
    touches = Touches.IMAGE_AND_LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"flipped": True} for s in range(1, 6)}
    identity: ClassVar[dict[str, Any]] = {"flipped": False}

    def __init__(self, *, axis: int = 0, **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["axis"])
        self.axis = check_int(self.name, "axis", axis, 0, 2)

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        return {**lvl, "flip_axes": [self.axis] if lvl["flipped"] else []}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        return reorient(case, [0, 1, 2], params["flip_axes"], keep_header=False)


SHIFTS.add(Flip.name, Flip)
