"""Reference-label noise: the lesion boundary eroded by k voxels (an under-segmenting annotator)."""

from __future__ import annotations

__all__ = ["LabelErode"]

from typing import Any, ClassVar

import edt
import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift
from robusteval.shifts.base import SHIFTS, Touches


class LabelErode(TabledShift):
    """Keep the label voxels farther than ``k_vox`` voxels (Euclidean, in voxel units) from the background:
    erosion by a ball of radius k. Lesions thinner than 2k voxels disappear. Images are untouched."""

    name = "label_erode"
    doc = "Label noise: lesion boundaries eroded by a ball of 1..5 voxels."
    family = "label_noise"
    touches = Touches.LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"k_vox": s} for s in range(1, 6)}
    identity: ClassVar[dict[str, Any]] = {"k_vox": 0}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return self.level(severity)

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        k = int(params["k_vox"])
        if k == 0 or not case.label.any():
            return case
        inside = edt.edt(np.ascontiguousarray(case.label), black_border=False)
        return case.with_(label=np.ascontiguousarray(case.label & (inside > k)))


SHIFTS.add(LabelErode.name, LabelErode)
