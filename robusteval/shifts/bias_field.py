"""Smooth multiplicative intensity inhomogeneity (MRI bias field), via TorchIO's ``BiasField``."""

from __future__ import annotations

__all__ = ["BiasField"]

from typing import Any

import numpy as np
import torchio as tio

from robusteval.data.case import Case
from robusteval.shifts.base import SHIFTS, Shift, Touches

# ROOD-MRI's five levels: polynomial coefficients drawn from U(-c, c).
COEFFICIENT_BOUND = {1: 0.3, 2: 0.6, 3: 0.9, 4: 1.2, 5: 1.5}
ORDER = 3


class BiasField(Shift):
    name = "bias_field"
    doc = "Multiplicative bias field: exp of an order-3 polynomial, coefficients U(-c, c), c = 0.3..1.5."
    family = "artifact"
    touches = Touches.IMAGE

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        self.check_severity(severity)
        n_terms = (ORDER + 1) * (ORDER + 2) * (ORDER + 3) // 6
        bound = COEFFICIENT_BOUND.get(severity, 0.0)
        return {"order": ORDER, "coefficients": rng.uniform(-bound, bound, size=n_terms).round(6).tolist()}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        coefficients = [float(c) for c in params["coefficients"]]
        if not any(coefficients):
            return case
        field = tio.BiasField.generate_bias_field(case.label[None], int(params["order"]), coefficients)
        field = np.asarray(field, dtype=np.float32)
        return case.with_(images={m: (img * field).astype(np.float32) for m, img in case.images.items()})

    def severity_table(self) -> list[dict[str, Any]]:
        return [{"severity": s, "coefficient_bound": c, "order": ORDER} for s, c in COEFFICIENT_BOUND.items()]


SHIFTS.add(BiasField.name, BiasField)
