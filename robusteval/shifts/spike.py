"""Spike (herringbone) artifact: bright points added to k-space, via TorchIO's ``Spike``."""

from __future__ import annotations

__all__ = ["Spike"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, clip_like, from_subject, to_subject
from robusteval.shifts.base import SHIFTS, Touches


class Spike(TabledShift):
    """``num_spikes`` k-space points (positions U[0, 1)^3 of the shifted spectrum) gain ``intensity`` x the
    spectrum's maximum magnitude: stripes whose amplitude is about ``intensity`` x the image mean.

    Not in ROOD-MRI; the levels are calibrated so that the PSNR loss is comparable with the other artifacts.
    Negative values are clipped to 0 for non-negative images.
    """

    name = "spike"
    doc = "Spike (herringbone) artifact: 1..3 k-space spikes of 0.1..0.5 x the spectrum maximum."
    family = "artifact"
    touches = Touches.IMAGE
    table: ClassVar[dict[int, dict[str, Any]]] = {
        1: {"num_spikes": 1, "intensity": 0.1},
        2: {"num_spikes": 1, "intensity": 0.2},
        3: {"num_spikes": 2, "intensity": 0.2},
        4: {"num_spikes": 2, "intensity": 0.35},
        5: {"num_spikes": 3, "intensity": 0.5},
    }
    identity: ClassVar[dict[str, Any]] = {"num_spikes": 0, "intensity": 0.0}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        positions = rng.uniform(0.0, 1.0, size=(int(lvl["num_spikes"]), 3)).round(6)
        return {**lvl, "positions": positions.tolist()}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        import torchio as tio

        if not params["positions"] or not params["intensity"]:
            return case
        transform = tio.Spike(
            spikes_positions=np.asarray(params["positions"], dtype=np.float64), intensity=float(params["intensity"])
        )
        out = from_subject(case, transform(to_subject(case, with_label=False)))
        return out.with_(images={m: clip_like(img, case.images[m]) for m, img in out.images.items()})


SHIFTS.add(Spike.name, Spike)
