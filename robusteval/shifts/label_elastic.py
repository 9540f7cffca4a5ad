"""Reference-label noise: a smooth random displacement of the label boundary (a wobbly delineation)."""

from __future__ import annotations

__all__ = ["LabelElastic"]

from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, new_seed
from robusteval.shifts.base import SHIFTS, Touches

SMOOTHING_VOX = 4.0
MARGIN_VOX = 7  # the crop around the label; >= the largest amplitude + 2, so one seed gives one field shape


class LabelElastic(TabledShift):
    """Warp the label by a smooth random field: per axis, white noise smoothed by a Gaussian of
    ``smoothing_vox`` voxels and scaled to a peak of ``amplitude_vox`` voxels; the label is resampled
    linearly and thresholded at 0.5. The field is drawn (from ``seed``) on the label's bounding box grown by
    ``max(7, ceil(amplitude) + 2)`` voxels, in raster order, so at one seed the severities scale one field.
    Images are untouched.
    """

    name = "label_elastic"
    doc = "Label noise: smooth random boundary displacement, peak 1..5 voxels (correlation 4 voxels)."
    family = "label_noise"
    touches = Touches.LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"amplitude_vox": float(s), "smoothing_vox": SMOOTHING_VOX} for s in range(1, 6)
    }
    identity: ClassVar[dict[str, Any]] = {"amplitude_vox": 0.0, "smoothing_vox": SMOOTHING_VOX}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.level(severity), "seed": new_seed(rng)}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        amplitude = float(params["amplitude_vox"])
        if amplitude == 0.0 or not case.label.any():
            return case
        idx = np.argwhere(case.label)
        margin = max(MARGIN_VOX, int(np.ceil(amplitude)) + 2)
        lo = np.maximum(idx.min(axis=0) - margin, 0)
        hi = np.minimum(idx.max(axis=0) + margin + 1, case.shape)
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        crop = case.label[box].astype(np.float32)
        rng = np.random.default_rng(int(params["seed"]))
        coords = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in crop.shape], indexing="ij"))
        for axis in range(3):
            field = ndimage.gaussian_filter(rng.standard_normal(crop.shape), float(params["smoothing_vox"]))
            peak = float(np.abs(field).max())
            coords[axis] += amplitude * field / peak if peak > 0 else 0.0
        warped = ndimage.map_coordinates(crop, coords, order=1, mode="constant", cval=0.0) >= 0.5
        label = case.label.copy()
        label[box] = warped
        return case.with_(label=label)


SHIFTS.add(LabelElastic.name, LabelElastic)
