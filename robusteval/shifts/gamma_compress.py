"""Contrast compression: gamma < 1 on the min-max normalised image (dark tissues brightened)."""

from __future__ import annotations

__all__ = ["GammaCompress"]

from typing import Any, ClassVar

from robusteval.shifts._gamma import GammaShift
from robusteval.shifts.base import SHIFTS


class GammaCompress(GammaShift):
    """``((I - min) / (max - min)) ** gamma`` rescaled back, gamma = 0.86..0.30 (ROOD-MRI)."""

    name = "gamma_compress"
    doc = "Contrast compression: power law gamma 0.86..0.30 on each image's [min, max] range."
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"gamma": round(1.0 - 0.14 * s, 6)} for s in range(1, 6)}


SHIFTS.add(GammaCompress.name, GammaCompress)
