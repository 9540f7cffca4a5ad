"""Orientation: data stored LPS while the header says RAS (the arrays flipped, the affine unchanged)."""

from __future__ import annotations

__all__ = ["HeaderMismatch"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, reject_unknown
from robusteval.shifts._orientation import parse_axes, reorient
from robusteval.shifts.base import SHIFTS, Touches


class HeaderMismatch(TabledShift):
    """Images, label and ignore reversed along array ``axes`` (option; default ``[0, 1]``: RAS data written
    as LPS) while the affine is kept: world coordinates no longer match the anatomy, so a pipeline that
    reorients by the header mirrors the head. Severity is ignored: every severity 1..5 applies it."""

    name = "header_mismatch"
    doc = "Orientation: data flipped along `axes` (default [0, 1]: LPS data, RAS header), affine unchanged."
    family = "orientation"
    touches = Touches.IMAGE_AND_LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"mismatched": True} for s in range(1, 6)}
    identity: ClassVar[dict[str, Any]] = {"mismatched": False}

    def __init__(self, *, axes: list[int] | None = None, **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["axes"])
        self.axes = parse_axes(self.name, "axes", [0, 1] if axes is None else axes)

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        return {**lvl, "flip_axes": list(self.axes) if lvl["mismatched"] else []}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        return reorient(case, [0, 1, 2], params["flip_axes"], keep_header=True)


SHIFTS.add(HeaderMismatch.name, HeaderMismatch)
