"""Rigid head motion during the acquisition (k-space segments from moved copies), via TorchIO's ``Motion``."""

from __future__ import annotations

__all__ = ["Motion"]

from typing import Any

import numpy as np
import torchio as tio

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, clip_like, from_subject, to_subject
from robusteval.shifts.base import SHIFTS, Touches


class Motion(TabledShift):
    """``num_transforms`` rigid movements at times ``t`` in (0, 1) of the acquisition (Shaw et al. 2019).

    Each movement's rotations (degrees, about the image centre) and translations (mm, along x, y, z) are
    U(-bound, bound); times are evenly spaced with +-30% jitter. The k-space of the moved copies is stitched
    along the last array axis. Only the images change (the label stays the clean anatomy); negative
    values from the Fourier round trip are clipped to 0 for non-negative images (as ROOD-MRI).
    """

    name = "motion"
    doc = "Rigid motion during the scan: 2..10 movements of up to 1..5 degrees and 2..10 mm (k-space mixing)."
    family = "artifact"
    touches = Touches.IMAGE
    # ROOD-MRI's five levels
    table = {s: {"degrees_bound": float(s), "translation_bound_mm": 2.0 * s, "num_transforms": 2 * s} for s in range(1, 6)}
    identity = {"degrees_bound": 0.0, "translation_bound_mm": 0.0, "num_transforms": 0}

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        n = int(lvl["num_transforms"])
        degrees = rng.uniform(-lvl["degrees_bound"], lvl["degrees_bound"], size=(n, 3)).round(6)
        translation = rng.uniform(-lvl["translation_bound_mm"], lvl["translation_bound_mm"], size=(n, 3)).round(6)
        times = ((np.arange(1, n + 1) + rng.uniform(-0.3, 0.3, size=n)) / (n + 1)).round(6)
        return {**lvl, "degrees": degrees.tolist(), "translation_mm": translation.tolist(), "times": times.tolist()}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        if not params["times"]:
            return case
        transform = tio.Motion(
            degrees=np.asarray(params["degrees"], dtype=np.float64),
            translation=np.asarray(params["translation_mm"], dtype=np.float64),
            times=np.asarray(params["times"], dtype=np.float64),
            image_interpolation="linear",
        )
        out = from_subject(case, transform(to_subject(case, with_label=False)))
        return out.with_(images={m: clip_like(img, case.images[m]) for m, img in out.images.items()})


SHIFTS.add(Motion.name, Motion)
