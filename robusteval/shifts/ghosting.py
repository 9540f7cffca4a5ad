"""Ghosting along a phase-encoding axis: periodic k-space planes scaled (TorchIO's ``Ghosting`` model)."""

from __future__ import annotations

__all__ = ["Ghosting"]

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.shifts._common import FloatArray, TabledShift, check_int, clip_like, map_images, reject_unknown
from robusteval.shifts.base import SHIFTS, ShiftOptionError, Touches

NUM_GHOSTS = 4


def ghost(image: FloatArray, num_ghosts: int, axis: int, intensity: float) -> NDArray[np.float64]:
    """Multiply the k-space planes ``n // 2 + j x num_ghosts`` (integers j != 0) along ``axis`` by
    ``1 - intensity`` (centred FFT; the centre plane is kept): copies of the image shifted by multiples of
    FOV / num_ghosts along ``axis``, of amplitude about ``intensity / num_ghosts``."""
    spectrum = np.fft.fftshift(np.fft.fftn(image.astype(np.float64)))
    n = image.shape[axis]
    planes = np.arange(n // 2 % num_ghosts, n, num_ghosts)
    planes = planes[planes != n // 2]
    index: list[slice | NDArray[np.intp]] = [slice(None)] * image.ndim
    index[axis] = planes
    spectrum[tuple(index)] *= 1.0 - intensity
    return np.fft.ifftn(np.fft.ifftshift(spectrum)).real


class Ghosting(TabledShift):
    """Every ``num_ghosts``-th k-space plane along ``axis``, except the centre plane, is multiplied by
    ``1 - intensity``: TorchIO's ``Ghosting`` model with the lattice of planes anchored at the k-space centre.

    Deviations from ROOD-MRI (3..11 ghosts with TorchIO's lattice, which starts at index 0): that lattice
    makes the strength depend on ``n // 2 mod num_ghosts`` (the image size), and more ghosts at a fixed
    ghost amplitude move the modified planes away from the centre, so image quality did not fall
    monotonically with severity. Here ``num_ghosts`` is fixed at 4 (TorchIO's default minimum) and ROOD-MRI's
    intensities 0.5..2.5 set the severity: artifact energy grows as ``intensity**2``.

    Options: ``axes`` (array axes the phase-encoding axis is drawn from; default ``[0, 1]``, as ROOD-MRI).
    Negative values are clipped to 0 for non-negative images.
    """

    name = "ghosting"
    doc = "Ghosting: 4 ghosts, k-space planes scaled by 1 - intensity, intensity 0.5..2.5 (phase axis from `axes`)."
    family = "artifact"
    touches = Touches.IMAGE
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"num_ghosts": NUM_GHOSTS, "intensity": 0.5 * s} for s in range(1, 6)
    }  # ROOD-MRI's intensities
    identity: ClassVar[dict[str, Any]] = {"num_ghosts": NUM_GHOSTS, "intensity": 0.0}

    def __init__(self, *, axes: list[int] | None = None, **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["axes"])
        axes = [0, 1] if axes is None else axes
        if not isinstance(axes, list | tuple) or not axes or len(set(axes)) != len(axes):
            raise ShiftOptionError(
                f"shift {self.name!r}: option 'axes' must be a non-empty list of distinct axes "
                f"from 0, 1, 2; got {axes!r}"
            )
        self.axes = [check_int(self.name, "axes", a, 0, 2) for a in axes]

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        lvl = self.level(severity)
        return {**lvl, "axis": int(self.axes[int(rng.integers(len(self.axes)))])}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        if not params["num_ghosts"] or not params["intensity"]:
            return case
        g, axis, intensity = int(params["num_ghosts"]), int(params["axis"]), float(params["intensity"])
        return map_images(case, lambda _m, img: clip_like(ghost(img, g, axis, intensity), img))


SHIFTS.add(Ghosting.name, Ghosting)
