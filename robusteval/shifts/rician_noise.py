"""Rician noise: magnitude of the image plus complex Gaussian noise."""

from __future__ import annotations

__all__ = ["RicianNoise"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import FloatArray, TabledShift, map_images, modality_rng, new_seed
from robusteval.shifts.base import SHIFTS, Touches


class RicianNoise(TabledShift):
    """``|I + n1 + i n2|`` with ``n1, n2 ~ N(0, sigma)`` and ``sigma = relative_std x std(I)``.

    ``std(I)`` is each image's standard deviation over the whole volume (background included), the
    convention of ROOD-MRI (MONAI ``RandRicianNoise(relative=True)``), so the levels match its table.
    Each modality gets its own noise realisation from the recorded ``seed``.
    """

    name = "rician_noise"
    doc = "Rician noise, sigma = 0.16..0.8 x the image's standard deviation (whole volume)."
    family = "artifact"
    touches = Touches.IMAGE
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"relative_std": round(0.16 * s, 6)} for s in range(1, 6)
    }  # ROOD-MRI
    identity: ClassVar[dict[str, Any]] = {"relative_std": 0.0}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.level(severity), "seed": new_seed(rng)}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        relative = float(params["relative_std"])
        if relative == 0.0:
            return case
        seed = int(params["seed"])

        def noisy(modality: str, img: FloatArray) -> FloatArray:
            rng = modality_rng(seed, modality)
            sigma = relative * float(img.std(dtype=np.float64))
            n1 = rng.normal(0.0, sigma, img.shape)
            n2 = rng.normal(0.0, sigma, img.shape)
            return np.sqrt((img + n1) ** 2 + n2**2).astype(np.float32)

        return map_images(case, noisy)


SHIFTS.add(RicianNoise.name, RicianNoise)
