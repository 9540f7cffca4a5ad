"""What ``label_erode`` and ``label_dilate`` share: the severity table of k mm, the sampling, and moving the
label's boundary by k mm along its normals with a dithered pull-back (``_label_noise``)."""

from __future__ import annotations

__all__ = ["SMOOTHING_MARGIN_VOX", "BoundaryMove", "Mask", "Mm"]

import math
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

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
from robusteval.shifts.base import Touches

Mask = NDArray[np.bool_]
Mm = NDArray[np.float64]  # distances (mm) or spacing
SMOOTHING_MARGIN_VOX = math.ceil(4 * NORMAL_SMOOTHING_VOX) + 1  # background kept around the label for the normals


class BoundaryMove(TabledShift):
    """Move the label's boundary by ``k_mm`` on average along its normals (sub-voxel amounts included).

    Each movable voxel ``v`` reads the clean label at ``v + pull x k_mm x n(v)`` by linear interpolation (``n``:
    the outward boundary normal, from the signed distance in mm with the case's spacing, smoothed by one voxel)
    and is labelled where the dithering field ``u(v) < q`` (``seed``, correlation ``correlation_mm``), so the
    mean displacement is k mm. A subclass says which voxels may move (:meth:`movable`), how far around the
    label to look (:meth:`margin_vox`) and what to keep afterwards (:meth:`finish`). ``k_mm = 0`` is the
    identity; images are untouched.
    """

    family = "label_noise"
    touches = Touches.LABEL
    pull: ClassVar[float]  # +1: read the label outward (the boundary moves in); -1: inward (it moves out)
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"k_mm": boundary_mm(s), "correlation_mm": DITHER_CORRELATION_MM} for s in range(1, 6)
    }
    identity: ClassVar[dict[str, Any]] = {"k_mm": 0.0, "correlation_mm": DITHER_CORRELATION_MM}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.level(severity), "seed": new_seed(rng)}

    @abstractmethod
    def margin_vox(self, reach_mm: float, spacing: Mm) -> list[int]:
        """Voxels of background kept around the label's bounding box, per axis."""

    @abstractmethod
    def movable(
        self,
        case: Case,
        box: tuple[slice, slice, slice],
        crop: Mask,
        inside: Mm,
        outside: Mm,
        reach_mm: float,
    ) -> Mask:
        """The voxels of ``crop`` that may change (farther than ``reach_mm`` from the boundary, every
        interpolation corner agrees: they cannot)."""

    def finish(self, before: Mask, after: Mask, inside: Mm) -> Mask:
        """The moved crop as kept (default: as moved)."""
        return after

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        k = float(params["k_mm"])
        if k == 0.0 or not case.label.any() or case.label.all():
            return case
        spacing = np.asarray(case.spacing_mm, dtype=np.float64)
        reach = k + float(np.linalg.norm(spacing))
        box = crop_around(case.label, self.margin_vox(reach, spacing))
        crop = case.label[box]
        inside, outside = inside_outside_mm(crop, spacing)
        voxels = np.argwhere(self.movable(case, box, crop, inside, outside, reach))
        offsets = self.pull * k * outward_normals(inside - outside, spacing, voxels) / spacing
        labelled = dithered_pullback(
            crop, voxels, offsets, (case.affine, crop_origin(box)), int(params["seed"]), float(params["correlation_mm"])
        )
        moved = crop.copy()
        moved[voxels[:, 0], voxels[:, 1], voxels[:, 2]] = labelled
        label = case.label.copy()
        label[box] = self.finish(crop, moved, inside)
        return case.with_(label=label)
