"""Reference-label noise: the lesion boundary moved inward by k mm (an under-segmenting annotator)."""

from __future__ import annotations

__all__ = ["LabelErode"]


from robusteval.data.case import Case
from robusteval.shifts._boundary import SMOOTHING_MARGIN_VOX, BoundaryMove, Mask, Mm
from robusteval.shifts._label_noise import keep_lesion_cores
from robusteval.shifts.base import SHIFTS


class LabelErode(BoundaryMove):
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
    pull = 1.0

    def margin_vox(self, reach_mm: float, spacing: Mm) -> list[int]:
        return [SMOOTHING_MARGIN_VOX] * 3

    def movable(
        self,
        case: Case,
        box: tuple[slice, slice, slice],
        crop: Mask,
        inside: Mm,
        outside: Mm,
        reach_mm: float,
    ) -> Mask:
        return crop & (inside <= reach_mm)  # deeper, every interpolation corner is labelled: q = 1

    def finish(self, before: Mask, after: Mask, inside: Mm) -> Mask:
        return keep_lesion_cores(before, after, inside)


SHIFTS.add(LabelErode.name, LabelErode)
