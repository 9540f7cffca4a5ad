"""Rigid head motion during the acquisition (k-space segments from moved copies), via TorchIO's ``Motion``."""

from __future__ import annotations

__all__ = ["Motion"]

from typing import Any, ClassVar

import numpy as np

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, check_backend, clip_like, from_subject, reject_unknown, to_subject
from robusteval.shifts.base import SHIFTS, Touches

MAX_TRANSFORMS = 10  # movements drawn at every severity (the first num_transforms are used)


class Motion(TabledShift):
    """``num_transforms`` rigid movements at times ``t`` in (0, 1) of the acquisition (Shaw et al. 2019).

    Each movement's rotations (degrees about x, y, z) and translations (mm) are U(-bound, bound); times are
    evenly spaced with +-30% jitter. The draws are nested across severities (10 movements are always
    drawn, the first ``num_transforms`` used), so one seed gives more and larger movements as the severity
    grows. TorchIO rotates about the world origin (its matrix round trip drops the Euler centre) in LPS
    coordinates. The k-space of the moved copies is stitched along the last array axis. Only the images
    change (the label stays the clean anatomy); negative values from the Fourier round trip are clipped to 0
    for non-negative images (as ROOD-MRI).

    Options: ``backend`` (``torchio``, default, or ``torch``: the same resampling and k-space stitching,
    batched over images and movements, CPU/CUDA) and ``device`` (torch backend: ``auto``, ``cpu``, ``cuda``).
    """

    name = "motion"
    doc = "Rigid motion during the scan: 2..10 movements of up to 1..5 degrees and 2..10 mm (k-space mixing)."
    family = "artifact"
    touches = Touches.IMAGE
    # ROOD-MRI's five levels
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"degrees_bound": float(s), "translation_bound_mm": 2.0 * s, "num_transforms": 2 * s} for s in range(1, 6)
    }
    identity: ClassVar[dict[str, Any]] = {"degrees_bound": 0.0, "translation_bound_mm": 0.0, "num_transforms": 0}

    def __init__(self, *, backend: str = "torchio", device: str = "auto", **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["backend", "device"])
        self.backend, self.device = check_backend(self.name, backend, device)

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        n = int(lvl["num_transforms"])
        u_degrees = rng.uniform(-1.0, 1.0, size=(MAX_TRANSFORMS, 3))[:n]
        u_translation = rng.uniform(-1.0, 1.0, size=(MAX_TRANSFORMS, 3))[:n]
        jitter = rng.uniform(-0.3, 0.3, size=MAX_TRANSFORMS)[:n]
        degrees = (u_degrees * lvl["degrees_bound"]).round(6)
        translation = (u_translation * lvl["translation_bound_mm"]).round(6)
        times = ((np.arange(1, n + 1) + jitter) / (n + 1)).round(6)
        return {**lvl, "degrees": degrees.tolist(), "translation_mm": translation.tolist(), "times": times.tolist()}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        import torchio as tio

        if not params["times"]:
            return case
        if self.backend == "torch":
            return self._apply_torch(case, params)
        transform = tio.Motion(
            degrees=np.asarray(params["degrees"], dtype=np.float64),
            translation=np.asarray(params["translation_mm"], dtype=np.float64),
            times=np.asarray(params["times"], dtype=np.float64),
            image_interpolation="linear",
        )
        out = from_subject(case, transform(to_subject(case, with_label=False)))
        return out.with_(images={m: clip_like(img, case.images[m]) for m, img in out.images.items()})

    def _apply_torch(self, case: Case, params: dict[str, Any]) -> Case:
        import torch

        from robusteval.shifts import _torch_ops

        device = _torch_ops.resolve_device(self.device)
        names = list(case.images)
        vols = torch.from_numpy(np.stack([case.images[m] for m in names])).to(device)
        out = _torch_ops.motion(vols, case.affine, params["degrees"], params["translation_mm"], params["times"],
                                device).cpu().numpy()  # fmt: skip
        return case.with_(images={m: clip_like(out[i], case.images[m]) for i, m in enumerate(names)})


SHIFTS.add(Motion.name, Motion)
