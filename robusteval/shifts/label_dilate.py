"""Reference-label noise: the lesion boundary moved outward by k mm (an over-segmenting annotator)."""

from __future__ import annotations

__all__ = ["LabelDilate"]

import math

from robusteval.data.case import Case
from robusteval.shifts._boundary import SMOOTHING_MARGIN_VOX, BoundaryMove, Mask, Mm
from robusteval.shifts.base import SHIFTS


class LabelDilate(BoundaryMove):
    """Move the label's boundary outward by ``k_mm`` on average, on any grid (sub-voxel amounts included).

    The mirror of ``label_erode``: each background voxel ``v`` reads the clean label at ``v - k_mm x n(v)``
    (``n``: the outward boundary normal, from the signed distance in mm, smoothed by one voxel) by linear
    interpolation and joins the label where the dithering field ``u(v) < q`` (``seed``, correlation
    ``correlation_mm``), so the mean displacement is k mm. Voxels of the ignore mask are never added; the
    growth is not limited to the brain (as before). ``k_mm = 0`` is the identity. Images are untouched.
    """

    name = "label_dilate"
    doc = "Label noise: lesion boundaries moved outward by 0.25..2 x the inter-rater distance (mm, sub-voxel)."
    pull = -1.0

    def margin_vox(self, reach_mm: float, spacing: Mm) -> list[int]:
        return [math.ceil(reach_mm / s) + SMOOTHING_MARGIN_VOX for s in spacing]  # room for the grown label

    def movable(
        self,
        case: Case,
        box: tuple[slice, slice, slice],
        crop: Mask,
        inside: Mm,
        outside: Mm,
        reach_mm: float,
    ) -> Mask:
        candidates = ~crop & (outside <= reach_mm)  # farther out, every interpolation corner is 0
        if case.ignore is not None:
            candidates &= ~case.ignore[box]
        return candidates


SHIFTS.add(LabelDilate.name, LabelDilate)
