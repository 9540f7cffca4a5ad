"""Two input channels swapped (e.g. FLAIR fed where T1 is expected): a pipeline / header error."""

from __future__ import annotations

__all__ = ["SwapModalities"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.errors import CaseError
from robusteval.shifts._common import TabledShift, reject_unknown
from robusteval.shifts.base import SHIFTS, ShiftOptionError, Touches


class SwapModalities(TabledShift):
    """The images of modalities ``a`` and ``b`` trade places. Severity is ignored: every severity 1..5
    swaps (0 is the identity). Options: ``a`` (default ``flair``), ``b`` (default ``t1``)."""

    name = "swap_modalities"
    doc = "Two input sequences swapped (options `a`, `b`; default flair <-> t1); severity-independent."
    family = "modality"
    touches = Touches.IMAGE
    table: ClassVar[dict[int, dict[str, Any]]] = {s: {"swapped": True} for s in range(1, 6)}
    identity: ClassVar[dict[str, Any]] = {"swapped": False}

    def __init__(self, *, a: str = "flair", b: str = "t1", **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["a", "b"])
        for option, value in (("a", a), ("b", b)):
            if not isinstance(value, str) or not value:
                raise ShiftOptionError(f"shift {self.name!r}: option {option!r} must be a modality name; got {value!r}")
        if a == b:
            raise ShiftOptionError(f"shift {self.name!r}: options 'a' and 'b' must differ; both are {a!r}")
        self.a, self.b = a, b

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.level(severity), "pair": [self.a, self.b]}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        if not params["swapped"]:
            return case
        a, b = (str(m) for m in params["pair"])
        missing = [m for m in (a, b) if m not in case.images]
        if missing:
            raise CaseError(
                f"shift {self.name!r}: case {case.case_id} has no modality {missing}; it has {sorted(case.images)}"
            )
        return case.with_(images={**case.images, a: case.images[b], b: case.images[a]})


SHIFTS.add(SwapModalities.name, SwapModalities)
