"""Reference-label noise: the lesion boundary moved inward by k mm (an under-segmenting annotator)."""

from __future__ import annotations

__all__ = ["LabelErode"]

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
    keep_lesion_cores,
    outward_normals,
)
from robusteval.shifts.base import SHIFTS, Touches

SMOOTHING_MARGIN_VOX = math.ceil(4 * NORMAL_SMOOTHING_VOX) + 1  # background kept around the label for the normals


class LabelErode(TabledShift):
    """Move the label's boundary inward by ``k_mm`` on average, on any grid (sub-voxel amounts included).

    Each label voxel ``v`` reads the clean label at ``v + k_mm x n(v)`` by linear interpolation (``n``: the
    outward boundary normal, from the signed distance in mm with the case's anisotropic spacing, smoothed by
    one voxel) and stays labelled where the dithering field ``u(v) < q`` (``_label_noise``; ``u`` from
    ``seed``, correlation ``correlation_mm``): voxels within k of the boundary go, the next layer goes in
    patches covering the fractional remainder, so the mean displacement is k mm. The deepest voxel of each
    26-connected lesion always stays: erosion moves boundaries and never deletes a lesion (missed lesions are
    ``label_drop_small``'s noise). ``k_mm = 0`` is the identity; the array's edge is not a boundary. Images
    are untouched.
    """

    name = "label_erode"
    doc = "Label noise: lesion boundaries moved inward by 0.25..2 x the inter-rater distance (mm, sub-voxel)."
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
        box = crop_around(case.label, [SMOOTHING_MARGIN_VOX] * 3)
        crop = case.label[box]
        inside, outside = inside_outside_mm(crop, spacing)
        # beyond k + one voxel diagonal from the background, every interpolation corner is labelled: q = 1
        voxels = np.argwhere(crop & (inside <= k + float(np.linalg.norm(spacing))))
        offsets = k * outward_normals(inside - outside, spacing, voxels) / spacing
        kept = dithered_pullback(
            crop, voxels, offsets, (case.affine, crop_origin(box)), int(params["seed"]), float(params["correlation_mm"])
        )
        eroded = crop.copy()
        gone = voxels[~kept]
        eroded[gone[:, 0], gone[:, 1], gone[:, 2]] = False
        label = case.label.copy()
        label[box] = keep_lesion_cores(crop, eroded, inside)
        return case.with_(label=label)


SHIFTS.add(LabelErode.name, LabelErode)
