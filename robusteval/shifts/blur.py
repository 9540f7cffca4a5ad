"""Gaussian blur with a physical (mm) standard deviation, via TorchIO's ``Blur``."""

from __future__ import annotations

__all__ = ["Blur"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, from_subject, to_subject
from robusteval.shifts.base import SHIFTS, Touches


class Blur(TabledShift):
    """Isotropic Gaussian smoothing, standard deviation ``std_mm`` (converted to voxels per axis)."""

    name = "blur"
    doc = "Gaussian blur, standard deviation 0.8..4.0 mm (isotropic in mm)."
    family = "artifact"
    touches = Touches.IMAGE
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"std_mm": round(0.8 * s, 6)} for s in range(1, 6)}  # ROOD-MRI
    identity: ClassVar[dict[str, Any]] = {"std_mm": 0.0}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return self.level(severity)

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        import torchio as tio

        std = float(params["std_mm"])
        if std == 0.0:
            return case
        return from_subject(case, tio.Blur(std=(std, std, std))(to_subject(case, with_label=False)))


SHIFTS.add(Blur.name, Blur)
