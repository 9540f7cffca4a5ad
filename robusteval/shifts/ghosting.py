"""Ghosting along a phase-encoding axis: periodic k-space planes scaled (TorchIO's ``Ghosting`` model)."""

from __future__ import annotations

__all__ = ["Ghosting"]

from typing import Any

import numpy as np
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.shifts._common import FloatArray, TabledShift, check_int, clip_like, map_images, reject_unknown
from robusteval.shifts.base import SHIFTS, ShiftOptionError, Touches


def ghost(image: FloatArray, num_ghosts: int, axis: int, intensity: float) -> NDArray[np.float64]:
    """Multiply the k-space planes ``n // 2 + j x num_ghosts`` (all integers j) along ``axis`` by
    ``1 - intensity`` (centred FFT): the image minus ``intensity / num_ghosts`` x its copies shifted by
    multiples of FOV / num_ghosts along ``axis``."""
    spectrum = np.fft.fftshift(np.fft.fftn(image.astype(np.float64)))
    n = image.shape[axis]
    planes = np.arange(n // 2 % num_ghosts, n, num_ghosts)
    index: list[slice | NDArray[np.intp]] = [slice(None)] * image.ndim
    index[axis] = planes
    spectrum[tuple(index)] *= 1.0 - intensity
    return np.fft.ifftn(np.fft.ifftshift(spectrum)).real


class Ghosting(TabledShift):
    """Every ``num_ghosts``-th k-space plane along ``axis`` is multiplied by ``1 - intensity``.

    TorchIO's ``Ghosting`` model and ROOD-MRI's levels, with one change: the plane lattice is anchored at
    the k-space centre plane (TorchIO anchors it at index 0 and restores the centre plane, which makes the
    artifact strength depend on ``n // 2 mod num_ghosts`` and not monotone in severity). Ghost energy is
    then about ``intensity**2 / num_ghosts`` of the image's, increasing with severity.
    Options: ``axes`` (array axes the phase-encoding axis is drawn from; default ``[0, 1]``, as ROOD-MRI).
    Negative values are clipped to 0 for non-negative images.
    """

    name = "ghosting"
    doc = "Ghosting: 3..11 ghosts of intensity 0.5..2.5 along a phase-encoding axis drawn from `axes`."
    family = "artifact"
    touches = Touches.IMAGE
    table = {s: {"num_ghosts": 2 * s + 1, "intensity": 0.5 * s} for s in range(1, 6)}  # ROOD-MRI
    identity = {"num_ghosts": 0, "intensity": 0.0}

    def __init__(self, *, axes: list[int] | None = None, **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["axes"])
        axes = [0, 1] if axes is None else axes
        if not isinstance(axes, list | tuple) or not axes or len(set(axes)) != len(axes):
            raise ShiftOptionError(f"shift {self.name!r}: option 'axes' must be a non-empty list of distinct axes "
                                   f"from 0, 1, 2; got {axes!r}")
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
