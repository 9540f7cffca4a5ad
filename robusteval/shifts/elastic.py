"""Elastic deformation: a cubic B-spline displacement field moving image and label together (TorchIO)."""

from __future__ import annotations

__all__ = ["Elastic", "control_points"]

import warnings
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.shifts._common import TabledShift, check_backend, from_subject, new_seed, reject_unknown, to_subject
from robusteval.shifts.base import SHIFTS, Touches

NUM_CONTROL_POINTS = 7
LOCKED_BORDERS = 2


def control_points(
    seed: int, max_displacement_mm: float, num: int = NUM_CONTROL_POINTS, locked_borders: int = LOCKED_BORDERS
) -> NDArray[np.float64]:
    """The ``(num, num, num, 3)`` coarse displacement grid (mm, TorchIO/SimpleITK LPS axes) of a seed.

    Each component is U(-max, max) (TorchIO's ``RandomElasticDeformation.get_params``), with the outer
    ``locked_borders`` planes of the first two grid axes set to 0 (TorchIO's convention).
    """
    grid = np.random.default_rng(int(seed)).uniform(-1.0, 1.0, size=(num, num, num, 3)) * max_displacement_mm
    for i in range(locked_borders):
        grid[i, :] = 0
        grid[-1 - i, :] = 0
        grid[:, i] = 0
        grid[:, -1 - i] = 0
    return grid


class Elastic(TabledShift):
    """TorchIO ``ElasticDeformation``: 7x7x7 control points spread over the field of view, displacements
    U(-max, max) mm per component (borders locked), image linear / label nearest neighbour.

    ROOD-MRI's levels (6..30 mm). At severities 4-5 the displacement exceeds half the control-point spacing
    for fields of view under ~4 x 2 x max, so the warp may fold; TorchIO's warning about it is silenced.

    Options: ``backend`` (``torchio``, default, or ``torch``: the same B-spline field and ITK resampling
    rules in one batched PyTorch pass, CPU/CUDA, axis-aligned affines only) and ``device`` (torch backend:
    ``auto``, ``cpu`` or ``cuda``).
    """

    name = "elastic"
    doc = "Elastic B-spline deformation of image and label, control-point displacement up to 6..30 mm."
    family = "artifact"
    touches = Touches.IMAGE_AND_LABEL
    table: ClassVar[dict[int, dict[str, Any]]] = {
        s: {"max_displacement_mm": 6.0 * s, "num_control_points": NUM_CONTROL_POINTS} for s in range(1, 6)
    }
    identity: ClassVar[dict[str, Any]] = {"max_displacement_mm": 0.0, "num_control_points": NUM_CONTROL_POINTS}

    def __init__(self, *, backend: str = "torchio", device: str = "auto", **unknown: Any) -> None:
        reject_unknown(self.name, unknown, ["backend", "device"])
        self.backend, self.device = check_backend(self.name, backend, device)

    def sample(self, severity: int, rng: np.random.Generator) -> dict[str, Any]:
        return {**self.level(severity), "seed": new_seed(rng)}

    def apply(self, case: Case, params: dict[str, Any]) -> Case:
        import torchio as tio

        from robusteval.shifts import _torch_ops

        max_mm = float(params["max_displacement_mm"])
        if max_mm == 0.0:
            return case
        grid = control_points(int(params["seed"]), max_mm, int(params["num_control_points"]))
        if self.backend == "torch" and _torch_ops.is_axis_aligned(case.affine):
            return self._apply_torch(case, grid)
        transform = tio.ElasticDeformation(
            control_points=grid,
            max_displacement=(max_mm, max_mm, max_mm),
            image_interpolation="linear",
            label_interpolation="nearest",
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The maximum displacement is larger", category=RuntimeWarning)
            return from_subject(case, transform(to_subject(case)))

    def _apply_torch(self, case: Case, grid: NDArray[np.float64]) -> Case:
        import torch

        from robusteval.shifts import _torch_ops

        device = _torch_ops.resolve_device(self.device)
        names = list(case.images)
        arrays = [case.images[m] for m in names] + [case.label.astype(np.float32)]
        modes = ["linear"] * len(names) + ["nearest"]
        if case.ignore is not None:
            arrays.append(case.ignore.astype(np.float32))
            modes.append("nearest")
        raters = list(case.annotations)
        arrays += [case.annotations[r].astype(np.float32) for r in raters]
        modes += ["nearest"] * len(raters)
        vols = torch.from_numpy(np.stack(arrays)).to(device)
        out = _torch_ops.elastic(vols, case.affine, grid, modes, device).cpu().numpy()
        images = {m: np.ascontiguousarray(out[i]) for i, m in enumerate(names)}
        label = np.ascontiguousarray(out[len(names)] > 0.5)
        ignore = None if case.ignore is None else np.ascontiguousarray(out[len(names) + 1] > 0.5)
        first = len(names) + 1 + (case.ignore is not None)
        annotations = {r: np.ascontiguousarray(out[first + i] > 0.5) for i, r in enumerate(raters)}
        return case.with_(images=images, label=label, ignore=ignore, annotations=annotations)


SHIFTS.add(Elastic.name, Elastic)
