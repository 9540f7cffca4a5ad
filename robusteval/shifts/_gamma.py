"""Shared power-law contrast change for :mod:`gamma_compress` and :mod:`gamma_expand`."""

from __future__ import annotations

__all__ = ["GammaShift", "min_max_gamma"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import FloatArray, TabledShift, map_images
from robusteval.shifts.base import Touches

EPSILON = 1e-7  # MONAI AdjustContrast's


def min_max_gamma(image: FloatArray, gamma: float) -> FloatArray:
    """``((I - min) / (max - min)) ** gamma * (max - min) + min`` (MONAI ``AdjustContrast``, as ROOD-MRI)."""
    img = image.astype(np.float64)
    lo, span = float(img.min()), float(img.max() - img.min())
    return (((img - lo) / (span + EPSILON)) ** gamma * span + lo).astype(np.float32)


class GammaShift(TabledShift):
    """Power-law contrast change on each image's own [min, max] range (same gamma for every modality)."""

    family = "artifact"
    touches = Touches.IMAGE
    identity: ClassVar[dict[str, Any]] = {"gamma": 1.0}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return self.level(severity)

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        gamma = float(params["gamma"])
        if gamma == 1.0:
            return case
        return map_images(case, lambda _m, img: min_max_gamma(img, gamma))
