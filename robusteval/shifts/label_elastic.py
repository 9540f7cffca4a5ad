"""Reference-label noise: a smooth random displacement of the label boundary (a wobbly delineation)."""

from __future__ import annotations

__all__ = ["LabelElastic"]

import math
from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, new_seed
from robusteval.shifts._label_noise import (
    DITHER_CORRELATION_MM,
    boundary_mm,
    crop_around,
    crop_origin,
    dithered_pullback,
    inside_outside_mm,
    smooth_field,
    world_points,
)
from robusteval.shifts.base import SHIFTS, Touches

SMOOTHING_MM = 8.0  # correlation length of the displacement field (Gaussian covariance)
CLIP_SD = 3.0  # each displacement component is clipped at 3 standard deviations (the warp stays local; E|.| -0.1%)


class LabelElastic(TabledShift):
    """Warp the label by a smooth random displacement field in world mm whose mean absolute boundary
    displacement is ``amplitude_mm``, on any grid (sub-voxel amounts included).

    The field's three world components are independent smooth Gaussian fields (``_label_noise.smooth_field``,
    streams 1..3 of ``seed``; covariance ``exp(-r^2 / (2 smoothing_mm^2))``) of standard deviation
    ``amplitude_mm x sqrt(pi / 2)``, so that the displacement along any boundary normal has mean absolute
    value ``amplitude_mm``; each component is clipped at 3 standard deviations. Each voxel reads the clean
    label at its displaced position by linear interpolation and is labelled where the dithering field
    ``u < q`` (``correlation_mm``). A function of world position: one seed gives the same physical warp on
    every grid, and the severities scale one field. Voxels of the ignore mask are never added.
    ``amplitude_mm = 0`` is the identity. Images are untouched.
    """

    name = "label_elastic"
    doc = "Label noise: smooth random boundary displacement, mean 0.25..2 x the inter-rater distance (mm)."
    family = "label_noise"
    touches = Touches.LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"amplitude_mm": boundary_mm(s), "smoothing_mm": SMOOTHING_MM, "correlation_mm": DITHER_CORRELATION_MM}
        for s in range(1, 6)
    }
    identity: ClassVar[dict[str, Any]] = {
        "amplitude_mm": 0.0,
        "smoothing_mm": SMOOTHING_MM,
        "correlation_mm": DITHER_CORRELATION_MM,
    }

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.level(severity), "seed": new_seed(rng)}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        amplitude = float(params["amplitude_mm"])
        if amplitude == 0.0 or not case.label.any() or case.label.all():
            return case
        seed = int(params["seed"])
        sd = amplitude * math.sqrt(math.pi / 2.0)  # E|N(0, sd^2)| = amplitude
        spacing = np.asarray(case.spacing_mm, dtype=np.float64)
        # a voxel farther than the longest displacement + one voxel diagonal from the boundary cannot change
        reach = CLIP_SD * sd * math.sqrt(3.0) + float(np.linalg.norm(spacing))
        box = crop_around(case.label, [math.ceil(reach / s) + 1 for s in spacing])
        origin = crop_origin(box)
        crop = case.label[box]
        inside, outside = inside_outside_mm(crop, spacing)
        voxels = np.argwhere(np.where(crop, inside, outside) <= reach)
        points = world_points(case.affine, voxels + np.asarray(origin, dtype=np.intp))
        smoothing = float(params["smoothing_mm"])
        world = [sd * np.clip(smooth_field(seed, 1 + c, points, smoothing), -CLIP_SD, CLIP_SD) for c in range(3)]
        to_voxel = np.linalg.inv(np.asarray(case.affine, dtype=np.float64)[:3, :3])
        offsets = np.stack([sum(to_voxel[i, j] * world[j] for j in range(3)) for i in range(3)], axis=1)
        correlation = float(params["correlation_mm"])
        labelled = dithered_pullback(crop, voxels, offsets, (case.affine, origin), seed, correlation)
        if case.ignore is not None:
            at = (voxels[:, 0], voxels[:, 1], voxels[:, 2])
            labelled &= crop[at] | ~case.ignore[box][at]
        warped = crop.copy()
        warped[voxels[:, 0], voxels[:, 1], voxels[:, 2]] = labelled
        label = case.label.copy()
        label[box] = warped
        return case.with_(label=label)


SHIFTS.add(LabelElastic.name, LabelElastic)
