"""Smooth multiplicative intensity inhomogeneity (MRI bias field), via TorchIO's ``BiasField``."""

from __future__ import annotations

__all__ = ["BiasField"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, check_backend, reject_unknown
from robusteval.shifts.base import SHIFTS, Touches

# ROOD-MRI's five levels: polynomial coefficients drawn from U(-c, c).
COEFFICIENT_BOUND = {1: 0.3, 2: 0.6, 3: 0.9, 4: 1.2, 5: 1.5}
ORDER = 3
N_TERMS = (ORDER + 1) * (ORDER + 2) * (ORDER + 3) // 6


class BiasField(TabledShift):
    """Every image times ``exp(sum_ijk c_ijk x^i y^j z^k)``, ``i + j + k <= 3`` (20 terms, TorchIO's order),
    with x, y, z in [-1, 1] across the array and each ``c`` drawn from U(-bound, bound).

    Options: ``backend`` (``torchio``, default, or ``torch``: the same field from one einsum, CPU/CUDA) and
    ``device`` (torch backend: ``auto``, ``cpu`` or ``cuda``).
    """

    name = "bias_field"
    doc = "Multiplicative bias field: exp of an order-3 polynomial, coefficients U(-c, c), c = 0.3..1.5."
    family = "artifact"
    touches = Touches.IMAGE
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"coefficient_bound": c, "order": ORDER} for s, c in COEFFICIENT_BOUND.items()
    }
    identity: ClassVar[dict[str, Any]] = {"coefficient_bound": 0.0, "order": ORDER}

    def __init__(self, *, backend: str = "torchio", device: str = "auto", **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["backend", "device"])
        self.backend, self.device = check_backend(self.name, backend, device)

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        bound = lvl["coefficient_bound"]
        return {**lvl, "coefficients": rng.uniform(-bound, bound, size=N_TERMS).round(6).tolist()}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        import torchio as tio

        from robusteval.shifts import _torch_ops

        coefficients = [float(c) for c in params["coefficients"]]
        if not any(coefficients):
            return case
        if self.backend == "torch":
            device = _torch_ops.resolve_device(self.device)
            field = _torch_ops.bias_field(case.shape, int(params["order"]), coefficients, device).cpu().numpy()
        else:
            field = tio.BiasField.generate_bias_field(case.label[None], int(params["order"]), coefficients)
            field = np.asarray(field, dtype=np.float32)
        return case.with_(images={m: (img * field).astype(np.float32) for m, img in case.images.items()})


SHIFTS.add(BiasField.name, BiasField)
