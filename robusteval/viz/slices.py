"""Axial slices in one convention: RAS by the header, radiological view (the subject's right on the left).

:func:`to_ras` permutes and flips a case's arrays so that its axes run to the Right, Anterior and Superior
(by its affine; nothing is resampled). :func:`draw_axial` shows slice ``z`` of array axis 2 of such a case
with anterior up and the subject's right on the image's left, pixels at their physical aspect (mm extents),
an intensity window of the 1st-99.5th percentile of the volume's non-zero voxels, an optional filled mask
(a prediction) and the reference label's outline.
"""

from __future__ import annotations

__all__ = [
    "LESION_COLOUR",
    "ORIENTATION",
    "REFERENCE_COLOUR",
    "axial_slice_index",
    "display_modality",
    "draw_axial",
    "intensity_window",
    "slice_at",
    "to_ras",
]

from typing import Any

import nibabel as nib
import numpy as np
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.rundir import IMAGE_ORIENTATION

ORIENTATION = IMAGE_ORIENTATION
"""The display convention (:data:`robusteval.rundir.IMAGE_ORIENTATION`), stated in every figure's title."""
LESION_COLOUR = "#ff3b30"  # the label outline when no prediction is drawn
REFERENCE_COLOUR = "#2dd36f"  # the label outline beside a prediction (filled red)


def _reorient(array: NDArray[Any], ornt: NDArray[np.float64]) -> NDArray[Any]:
    out = nib.orientations.apply_orientation(array, ornt)  # type: ignore[no-untyped-call]
    return np.ascontiguousarray(out)


def to_ras(case: Case) -> Case:
    """``case`` with its arrays permuted / flipped so the array axes run to the Right, Anterior, Superior."""
    ornt = nib.orientations.io_orientation(case.affine)  # type: ignore[no-untyped-call]
    if np.array_equal(ornt, [[0, 1], [1, 1], [2, 1]]):
        return case
    affine = case.affine @ nib.orientations.inv_ornt_aff(ornt, case.shape)  # type: ignore[no-untyped-call]
    return case.with_(
        images={m: _reorient(v, ornt) for m, v in case.images.items()},
        label=_reorient(case.label, ornt),
        ignore=None if case.ignore is None else _reorient(case.ignore, ornt),
        annotations={rater: _reorient(mask, ornt) for rater, mask in case.annotations.items()},
        affine=affine,
    )


def display_modality(case: Case) -> str:
    """FLAIR when the case has it, else its first modality by name."""
    return "flair" if "flair" in case.images else sorted(case.images)[0]


def axial_slice_index(case: Case) -> int:
    """The axial slice (array axis 2 of a RAS-oriented case) to show: within the middle third of the brain's
    extent, the slice with the most lesion voxels (the middle slice when there are none there)."""
    brain = np.zeros(case.shape, dtype=bool)
    for image in case.images.values():
        brain |= image > 0
    zs = np.flatnonzero(brain.any(axis=(0, 1)))
    lo, hi = (int(zs[0]), int(zs[-1])) if len(zs) else (0, case.shape[2] - 1)
    third = (hi - lo) / 3.0
    a = round(lo + third)
    b = max(round(hi - third), a)
    per_slice = case.label[:, :, a : b + 1].sum(axis=(0, 1))
    if per_slice.size and per_slice.max() > 0:
        return a + int(np.argmax(per_slice))
    return (lo + hi) // 2


def slice_at(case: Case, fraction: float) -> int:
    """The axial slice at ``fraction`` (0..1) of array axis 2: the same place in volumes of other grids."""
    return round(min(max(fraction, 0.0), 1.0) * (case.shape[2] - 1))


def intensity_window(image: NDArray[np.float32]) -> tuple[float, float]:
    """The 1st and 99.5th percentiles of the non-zero voxels (the brain); (0, 1) for an empty volume."""
    inside = image[image > 0]
    if inside.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(inside, [1.0, 99.5])
    return float(lo), float(max(hi, lo + 1e-6))


def _screen(volume: NDArray[Any], z: int) -> NDArray[Any]:
    """Slice ``z`` of a RAS volume as screen rows (anterior up, origin lower) and columns (R on the left)."""
    return volume[::-1, :, z].T


def draw_axial(
    ax: Any,
    case: Case,
    modality: str,
    z: int,
    *,
    mask: NDArray[np.bool_] | None = None,
    outline: str = LESION_COLOUR,
) -> None:
    """Draw axial slice ``z`` of ``modality`` of the RAS-oriented ``case`` on ``ax`` (radiological view);
    ``mask`` (e.g. a prediction) filled in red, the reference label outlined in ``outline``."""
    dx, dy, _ = case.spacing_mm
    extent = (0.0, case.shape[0] * dx, 0.0, case.shape[1] * dy)
    image = case.images[modality]
    vmin, vmax = intensity_window(image)
    ax.imshow(_screen(image, z), cmap="gray", vmin=vmin, vmax=vmax, origin="lower", extent=extent,
              interpolation="nearest")  # fmt: skip
    if mask is not None:
        m = _screen(mask, z)
        ax.imshow(np.ma.masked_where(~m, m.astype(np.float32)), cmap="autumn", alpha=0.55, origin="lower",
                  extent=extent, interpolation="nearest")  # fmt: skip
    lesion = _screen(case.label, z)
    if lesion.any() and not lesion.all():
        ax.contour(lesion.astype(np.float32), levels=[0.5], origin="lower", extent=extent, colors=outline,
                   linewidths=0.7)  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])
