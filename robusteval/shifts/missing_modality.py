"""A missing or degraded input sequence: one modality blended toward zeros or toward structureless noise."""

from __future__ import annotations

__all__ = ["MissingModality"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.errors import CaseError
from robusteval.shifts._common import TabledShift, check_choice, modality_rng, new_seed, reject_unknown
from robusteval.shifts.base import SHIFTS, ShiftOptionError, Touches

FILLS = ("zero", "noise")


class MissingModality(TabledShift):
    """``(1 - weight) x I + weight x F`` for the one modality named by ``modality``, ``weight = severity / 5``
    (severity 5: the sequence is fully missing). ``F`` is 0 (``fill: zero``) or, for ``fill: noise``,
    Gaussian noise with the image's mean and standard deviation (whole volume) clipped at 0 for
    non-negative images. The other modalities and the label are untouched.

    Options: ``modality`` (default ``t1``), ``fill`` (``zero`` or ``noise``; default ``zero``).
    """

    name = "missing_modality"
    doc = "Missing input sequence: `modality` blended toward zeros or noise (`fill`), weight 0.2..1.0."
    family = "modality"
    touches = Touches.IMAGE
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"weight": round(0.2 * s, 6)} for s in range(1, 6)}
    identity: ClassVar[dict[str, Any]] = {"weight": 0.0}

    def __init__(self, *, modality: str = "t1", fill: str = "zero", **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["modality", "fill"])
        if not isinstance(modality, str) or not modality:
            raise ShiftOptionError(f"shift {self.name!r}: option 'modality' must be a modality name; got {modality!r}")
        self.modality = modality
        self.fill = check_choice(self.name, "fill", fill, FILLS)

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.level(severity), "modality": self.modality, "fill": self.fill, "seed": new_seed(rng)}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        weight = float(params["weight"])
        if weight == 0.0:
            return case
        m = str(params["modality"])
        if m not in case.images:
            raise CaseError(
                f"shift {self.name!r}: case {case.case_id} has no modality {m!r}; it has {sorted(case.images)}"
            )
        img = case.images[m]
        fill = np.zeros(img.shape, dtype=np.float64)
        if params["fill"] == "noise":
            fill = modality_rng(int(params["seed"]), m).normal(float(img.mean()), float(img.std()), img.shape)
            if float(img.min()) >= 0:
                fill = np.maximum(fill, 0.0)
        out = ((1.0 - weight) * img + weight * fill).astype(np.float32)
        return case.with_(images={**case.images, m: out})


SHIFTS.add(MissingModality.name, MissingModality)
