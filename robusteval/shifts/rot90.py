"""Orientation: the volume stored rotated by k x 90 degrees in one plane (header updated to match)."""

from __future__ import annotations

__all__ = ["Rot90"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, check_int, reject_unknown
from robusteval.shifts._orientation import parse_axes, reorient, rot90_as_signed_permutation
from robusteval.shifts.base import SHIFTS, Touches


class Rot90(TabledShift):
    """``np.rot90(array, k, axes)`` for images, label and ignore (options ``k`` in 1..3, default 1;
    ``axes``, default ``[0, 1]``, the axial plane), the affine updated so world positions are unchanged.
    Severity is ignored: every severity 1..5 rotates (0 is the identity)."""

    name = "rot90"
    doc = "Orientation: arrays rotated k x 90 degrees in the `axes` plane, affine consistent; severity-independent."
    family = "orientation"
    touches = Touches.IMAGE_AND_LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"rotated": True} for s in range(1, 6)}
    identity: ClassVar[dict[str, Any]] = {"rotated": False}

    def __init__(self, *, k: int = 1, axes: list[int] | None = None, **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["k", "axes"])
        self.k = check_int(self.name, "k", k, 1, 3)
        self.axes = parse_axes(self.name, "axes", [0, 1] if axes is None else axes, size=2)

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        return {**lvl, "k": self.k if lvl["rotated"] else 0, "axes": list(self.axes)}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        order, flips = rot90_as_signed_permutation(int(params["k"]), params["axes"])
        return reorient(case, order, flips, keep_header=False)


SHIFTS.add(Rot90.name, Rot90)
