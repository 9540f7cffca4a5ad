"""Reference-label noise: the smallest lesions are missed by the annotator."""

from __future__ import annotations

__all__ = ["LabelDropSmall"]

import math
from typing import Any, ClassVar, Literal, cast

import cc3d
import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift
from robusteval.shifts._label_noise import native_mask
from robusteval.shifts.base import SHIFTS, Touches

CONNECTIVITY = 26


class LabelDropSmall(TabledShift):
    """Remove the ``round(fraction x n)`` smallest of the label's ``n`` lesions (26-connected components;
    ties by size are broken by the components' raster order; rounding is half-up). Images are untouched."""

    name = "label_drop_small"
    doc = "Label noise: the smallest 10..50% of the lesions (26-connected) are removed (missed)."
    family = "label_noise"
    touches = Touches.LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"fraction": round(0.1 * s, 6), "connectivity": CONNECTIVITY} for s in range(1, 6)
    }
    identity: ClassVar[dict[str, Any]] = {"fraction": 0.0, "connectivity": CONNECTIVITY}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return self.level(severity)

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        fraction = float(params["fraction"])
        if fraction == 0.0 or not case.label.any():
            return case
        connectivity = cast(Literal[6, 18, 26], int(params["connectivity"]))
        labels, n = cc3d.connected_components(native_mask(case.label), connectivity=connectivity, return_N=True)
        n_drop = math.floor(fraction * n + 0.5)
        if n_drop == 0:
            return case
        sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        order = np.argsort(sizes, kind="stable")  # component ids 1..n in raster order, smallest first
        dropped = order[:n_drop] + 1
        return case.with_(label=np.ascontiguousarray(case.label & ~np.isin(labels, dropped)))


SHIFTS.add(LabelDropSmall.name, LabelDropSmall)
