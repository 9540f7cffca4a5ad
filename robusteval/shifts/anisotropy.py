"""Thick slices: downsample one axis by a factor, then resample back to the original grid (TorchIO)."""

from __future__ import annotations

__all__ = ["Anisotropy"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, check_int, from_subject, reject_unknown, to_subject
from robusteval.shifts.base import SHIFTS, ShiftOptionError, Touches


class Anisotropy(TabledShift):
    """The image is resampled to ``factor`` x its voxel size along ``axis`` (nearest neighbour, TorchIO's
    ``RandomAnisotropy``), then back to the original grid (linear).

    Options: ``axes`` (array axes ``axis`` is drawn from; default ``[0, 1, 2]``, as ROOD-MRI). The label is
    the clean, full-resolution reference (ROOD-MRI degraded it too; here only the image is degraded).
    """

    name = "anisotropy"
    doc = "Thick slices: one axis downsampled by 2.8..10 (nearest) and resampled back (linear)."
    family = "artifact"
    touches = Touches.IMAGE
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"factor": round(1.0 + 1.8 * s, 6)} for s in range(1, 6)
    }  # ROOD-MRI: linspace(1, 10, 6)[1:]
    identity: ClassVar[dict[str, Any]] = {"factor": 1.0}

    def __init__(self, *, axes: list[int] | None = None, **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["axes"])
        axes = [0, 1, 2] if axes is None else axes
        if not isinstance(axes, list | tuple) or not axes or len(set(axes)) != len(axes):
            raise ShiftOptionError(
                f"shift {self.name!r}: option 'axes' must be a non-empty list of distinct axes "
                f"from 0, 1, 2; got {axes!r}"
            )
        self.axes = [check_int(self.name, "axes", a, 0, 2) for a in axes]

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.level(severity), "axis": int(self.axes[int(rng.integers(len(self.axes)))])}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        import torchio as tio

        factor = float(params["factor"])
        if factor == 1.0:
            return case
        spacing = list(case.spacing_mm)
        spacing[int(params["axis"])] *= factor
        subject = to_subject(case, with_label=False)
        down = tio.Resample(target=(spacing[0], spacing[1], spacing[2]), image_interpolation="nearest")(subject)
        up = tio.Resample(target=(case.shape, np.asarray(case.affine)), image_interpolation="linear")(down)
        return from_subject(case, up)


SHIFTS.add(Anisotropy.name, Anisotropy)
