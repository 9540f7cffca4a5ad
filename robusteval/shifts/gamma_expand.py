"""Contrast expansion: gamma > 1 on the min-max normalised image (bright tissues stand out more)."""

from __future__ import annotations

__all__ = ["GammaExpand"]

from typing import Any, ClassVar

from robusteval.shifts._gamma import GammaShift
from robusteval.shifts.base import SHIFTS


class GammaExpand(GammaShift):
    """``((I - min) / (max - min)) ** gamma`` rescaled back, gamma = 1.4..3.0 (ROOD-MRI)."""

    name = "gamma_expand"
    doc = "Contrast expansion: power law gamma 1.4..3.0 on each image's [min, max] range."
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"gamma": round(1.0 + 0.4 * s, 6)} for s in range(1, 6)}


SHIFTS.add(GammaExpand.name, GammaExpand)
