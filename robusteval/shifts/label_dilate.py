"""Reference-label noise: the lesion boundary moved outward by k mm (an over-segmenting annotator)."""

from __future__ import annotations

__all__ = ["LabelDilate"]

import math
from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, new_seed
from robusteval.shifts._label_noise import (
    DITHER_CORRELATION_MM,
    NORMAL_SMOOTHING_VOX,
    boundary_mm,
    crop_around,
    crop_origin,
    dithered_pullback,
    inside_outside_mm,
    outward_normals,
)
from robusteval.shifts.base import SHIFTS, Touches

SMOOTHING_MARGIN_VOX = math.ceil(4 * NORMAL_SMOOTHING_VOX) + 1  # background kept around the grown label


class LabelDilate(TabledShift):
    """Move the label's boundary outward by ``k_mm`` on average, on any grid (sub-voxel amounts included).

    The mirror of ``label_erode``: each background voxel ``v`` reads the clean label at ``v - k_mm x n(v)``
    (``n``: the outward boundary normal, from the signed distance in mm, smoothed by one voxel) by linear
    interpolation and joins the label where the dithering field ``u(v) < q`` (``seed``, correlation
    ``correlation_mm``), so the mean displacement is k mm. Voxels of the ignore mask are never added; the
    growth is not limited to the brain (as before). ``k_mm = 0`` is the identity. Images are untouched.
    """

    name = "label_dilate"
    doc = "Label noise: lesion boundaries moved outward by 0.25..2 x the inter-rater distance (mm, sub-voxel)."
    family = "label_noise"
    touches = Touches.LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"k_mm": boundary_mm(s), "correlation_mm": DITHER_CORRELATION_MM} for s in range(1, 6)
    }
    identity: ClassVar[dict[str, Any]] = {"k_mm": 0.0, "correlation_mm": DITHER_CORRELATION_MM}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.level(severity), "seed": new_seed(rng)}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        k = float(params["k_mm"])
        if k == 0.0 or not case.label.any() or case.label.all():
            return case
        spacing = np.asarray(case.spacing_mm, dtype=np.float64)
        reach = k + float(np.linalg.norm(spacing))  # farther from the label, every interpolation corner is 0
        margin = [math.ceil(reach / s) + SMOOTHING_MARGIN_VOX for s in spacing]
        box = crop_around(case.label, margin)
        crop = case.label[box]
        inside, outside = inside_outside_mm(crop, spacing)
        candidates = ~crop & (outside <= reach)
        if case.ignore is not None:
            candidates &= ~case.ignore[box]
        voxels = np.argwhere(candidates)
        offsets = -k * outward_normals(inside - outside, spacing, voxels) / spacing
        added = dithered_pullback(
            crop, voxels, offsets, (case.affine, crop_origin(box)), int(params["seed"]), float(params["correlation_mm"])
        )
        grown = crop.copy()
        new = voxels[added]
        grown[new[:, 0], new[:, 1], new[:, 2]] = True
        label = case.label.copy()
        label[box] = grown
        return case.with_(label=label)


SHIFTS.add(LabelDilate.name, LabelDilate)
