"""Rigid pose change: rotation about the image centre and translation, image and label together (TorchIO)."""

from __future__ import annotations

__all__ = ["Affine"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, from_subject, to_subject
from robusteval.shifts.base import SHIFTS, Touches


class Affine(TabledShift):
    """TorchIO ``Affine`` with scales 1: rotations (degrees, about x, y, z through the image centre) and
    translations (mm), each U(-bound, bound). Image linear (padding: its minimum), label nearest (padding 0).
    """

    name = "affine"
    doc = "Rigid pose change: rotations up to 6..30 degrees and translations up to 8..40 mm per axis."
    family = "artifact"
    touches = Touches.IMAGE_AND_LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"degrees_bound": 6.0 * s, "translation_bound_mm": 8.0 * s} for s in range(1, 6)
    }  # ROOD-MRI
    identity: ClassVar[dict[str, Any]] = {"degrees_bound": 0.0, "translation_bound_mm": 0.0}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        degrees = rng.uniform(-lvl["degrees_bound"], lvl["degrees_bound"], size=3).round(6)
        translation = rng.uniform(-lvl["translation_bound_mm"], lvl["translation_bound_mm"], size=3).round(6)
        return {**lvl, "degrees": degrees.tolist(), "translation_mm": translation.tolist()}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        import torchio as tio

        degrees = [float(d) for d in params["degrees"]]
        translation = [float(t) for t in params["translation_mm"]]
        if not any(degrees) and not any(translation):
            return case
        transform = tio.Affine(
            scales=(1.0, 1.0, 1.0),
            degrees=(degrees[0], degrees[1], degrees[2]),
            translation=(translation[0], translation[1], translation[2]),
            center="image",
            default_pad_value="minimum",
            image_interpolation="linear",
            label_interpolation="nearest",
        )
        return from_subject(case, transform(to_subject(case)))


SHIFTS.add(Affine.name, Affine)
