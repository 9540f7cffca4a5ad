"""Shift speed: the PyTorch implementations against TorchIO's, same recorded parameters, on a 2 mm
brain-sized case (91x109x91, FLAIR + T1 + label; the resolution of the shipped protocols).

Rows: motion at severity 5 (10 movements), elastic at severity 3 and the bias field at severity 3, with
``backend: torch`` on the CPU against the default ``backend: torchio``; on a CUDA machine, the same on the GPU.
"""

from __future__ import annotations

__all__ = ["make_case", "run"]

import numpy as np

from benchmarks.common import BenchRow, best_of
from robusteval.data.case import Case

SHAPE = (91, 109, 91)
SPACING_MM = 2.0


def make_case(seed: int = 0) -> Case:
    """Smooth random FLAIR/T1-like volumes inside an ellipsoid and a blobby label (content is irrelevant to speed)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    grid = np.indices(SHAPE, dtype=np.float32)
    centre = (np.asarray(SHAPE, dtype=np.float32) - 1) / 2
    r = np.sqrt((((grid - centre[:, None, None, None]) / np.asarray(SHAPE)[:, None, None, None]) ** 2).sum(axis=0))
    brain = r < 0.42
    images = {
        m: (brain * (500.0 + 200.0 * ndimage.gaussian_filter(rng.standard_normal(SHAPE), 3.0) / 0.05)).astype(
            np.float32
        )
        for m in ("flair", "t1")
    }
    label = (ndimage.gaussian_filter(rng.standard_normal(SHAPE), 2.0) > 0.12) & (r < 0.3)
    affine = np.diag([SPACING_MM, SPACING_MM, SPACING_MM, 1.0])
    affine[:3, 3] = -centre * SPACING_MM
    return Case("bench", "bench", "A", "bench", images, label, affine)


def run() -> list[BenchRow]:
    import torch

    from robusteval.shifts import SHIFTS

    case = make_case()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows: list[BenchRow] = []
    # CPU goals: elastic and bias field beat TorchIO; motion is about even (SimpleITK's resampler is
    # multi-threaded C++): its torch path pays off batched on a GPU
    goals = {"motion": "~1x", "elastic": ">= 3x", "bias_field": ">= 2x"}
    for name, severity in (("motion", 5), ("elastic", 3), ("bias_field", 3)):
        reference = SHIFTS.get(name)()
        params = reference.sample(severity, np.random.default_rng(0))
        peer_s = best_of(lambda r=reference, p=params: r.apply(case, p))  # type: ignore[misc]
        for device in devices:
            fast = SHIFTS.get(name)(backend="torch", device=device)
            fast.apply(case, params)  # warm-up (CUDA context, kernels)
            ours_s = best_of(lambda f=fast, p=params: f.apply(case, p))  # type: ignore[misc]
            rows.append(
                BenchRow(
                    f"shifts: {name} s{severity}, torch {device}",
                    ours_s,
                    f"TorchIO {name}",
                    peer_s,
                    goals[name] if device == "cpu" else ">= 5x",
                )
            )
    return rows
