"""Reference-label noise: small spurious lesions added by the annotator."""

from __future__ import annotations

__all__ = ["LabelAddSpurious", "reference_modality"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, foreground
from robusteval.shifts.base import SHIFTS, Touches

RADIUS_MM = (1.0, 2.5)


def reference_modality(case: Case) -> str:
    """``flair`` when the case has it, else its first modality in name order."""
    return "flair" if "flair" in case.images else sorted(case.images)[0]


class LabelAddSpurious(TabledShift):
    """Add ``count`` balls of radius U(1, 2.5) mm (always at least their centre voxel).

    Centres: ``position`` u in [0, 1) picks voxel ``floor(u x n)`` of the ``n`` candidate voxels in raster
    order; candidates are the foreground of the reference image (FLAIR if present: voxels above 10% of its
    99th percentile) outside the label and the ignore mask. Balls are clipped to the foreground. Images are
    untouched.
    """

    name = "label_add_spurious"
    doc = "Label noise: 2..10 spurious small lesions (balls of 1-2.5 mm radius) added in the foreground."
    family = "label_noise"
    touches = Touches.LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"count": 2 * s} for s in range(1, 6)}
    identity: ClassVar[dict[str, Any]] = {"count": 0}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        n = int(lvl["count"])
        positions = rng.uniform(0.0, 1.0, size=n).round(9)
        radii = rng.uniform(*RADIUS_MM, size=n).round(6)
        return {**lvl, "positions": positions.tolist(), "radii_mm": radii.tolist()}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        if not params["positions"]:
            return case
        fg = foreground(case.images[reference_modality(case)])
        allowed = fg & ~case.label
        if case.ignore is not None:
            allowed &= ~case.ignore
        candidates = np.flatnonzero(allowed)
        if candidates.size == 0:
            return case
        spacing = np.asarray(case.spacing_mm)
        shape = np.asarray(case.shape)
        label = case.label.copy()
        for u, radius in zip(params["positions"], params["radii_mm"], strict=True):
            pick = min(int(float(u) * candidates.size), candidates.size - 1)
            centre = np.asarray(np.unravel_index(int(candidates[pick]), case.shape))
            half = np.floor(float(radius) / spacing).astype(int)
            lo, hi = np.maximum(centre - half, 0), np.minimum(centre + half + 1, shape)
            box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
            offsets = np.meshgrid(
                *[(np.arange(a, b) - c) * d for a, b, c, d in zip(lo, hi, centre, spacing, strict=True)], indexing="ij"
            )
            ball = sum(o**2 for o in offsets) <= float(radius) ** 2
            label[box] |= ball & fg[box]
            label[tuple(centre)] = True
        return case.with_(label=label)


SHIFTS.add(LabelAddSpurious.name, LabelAddSpurious)
