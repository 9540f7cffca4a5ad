"""Metric panel speed on a 1 mm brain-sized volume (182x218x182) with sparse random lesion blobs.

Rows: the whole panel against MONAI's HD95 + symmetric ASSD on the same masks, once with a probability map
(every metric but ``ndsc_aac``) and once with an uncertainty map too (``ndsc_aac`` sorts all 7.2M voxel
uncertainties); then the two native kernels the panel relies on against their scipy counterparts.
"""

from __future__ import annotations

__all__ = ["make_case", "run"]

import warnings

import numpy as np
from numpy.typing import NDArray

from benchmarks.common import BenchRow, best_of

SHAPE = (182, 218, 182)
SPACING = (1.0, 1.0, 1.0)


def _blobs(rng: np.random.Generator, n: int, shape: tuple[int, int, int]) -> NDArray[np.bool_]:
    """``n`` random balls of radius 1-4 voxels inside a brain-like central box."""
    mask = np.zeros(shape, dtype=bool)
    zz, yy, xx = np.ogrid[-5:6, -5:6, -5:6]
    lo = np.array([30, 30, 30])
    hi = np.array(shape) - 30
    for _ in range(n):
        c = rng.integers(lo, hi)
        r = rng.uniform(1.0, 4.0)
        ball = zz**2 + yy**2 + xx**2 <= r * r
        sl = tuple(slice(int(ci) - 5, int(ci) + 6) for ci in c)
        mask[sl] |= ball
    return mask


def make_case(seed: int = 0) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float32]]:
    """(prediction, reference, probability map): ~80 reference lesions; the prediction misses some, adds some
    and shifts boundaries; the probability map is a blurred prediction with noise near the lesions."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    ref = _blobs(rng, 80, SHAPE)
    labels, n = ndimage.label(ref)
    kept = np.isin(labels, rng.permutation(np.arange(1, n + 1))[: int(0.8 * n)])
    pred = ndimage.binary_dilation(kept) if seed % 2 else kept.copy()
    pred |= _blobs(rng, 20, SHAPE)
    prob = ndimage.gaussian_filter(pred.astype(np.float32), sigma=1.0)
    prob = np.clip(prob + 0.05 * rng.random(SHAPE, dtype=np.float32) * (prob > 0), 0.0, 1.0).astype(np.float32)
    return pred, ref, prob


def run() -> list[BenchRow]:
    import edt
    import torch
    from monai.metrics import HausdorffDistanceMetric, SurfaceDistanceMetric
    from scipy import ndimage

    from robusteval.metrics import METRICS, compute_metrics

    pred, ref, prob = make_case()
    uncertainty = (1.0 - 2.0 * np.abs(prob - 0.5)).astype(np.float32)  # binary entropy-like: 1 at p = 0.5
    names = METRICS.names()

    def ours() -> object:
        return compute_metrics(names, pred, ref, SPACING, prob=prob)

    def ours_with_uncertainty() -> object:
        return compute_metrics(names, pred, ref, SPACING, prob=prob, uncertainty=uncertainty)

    p_t = torch.from_numpy(pred)[None, None].float()
    r_t = torch.from_numpy(ref)[None, None].float()

    def monai() -> object:
        hd = HausdorffDistanceMetric(include_background=True, percentile=95)
        sd = SurfaceDistanceMetric(include_background=True, symmetric=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # MONAI's own deprecation notice
            hd(p_t, r_t)
            sd(p_t, r_t)
        return hd.aggregate(), sd.aggregate()

    monai_s = best_of(monai)
    rows = [
        BenchRow(
            f"metrics: panel, prob map ({len(names) - 1} metrics)",
            best_of(ours),
            "MONAI HD95+ASSD",
            monai_s,
            ">= 3x",
        ),
        BenchRow(
            f"metrics: panel, prob + uncertainty ({len(names)} metrics)",
            best_of(ours_with_uncertainty),
            "MONAI HD95+ASSD",
            monai_s,
        ),
    ]
    cc_struct = np.ones((3, 3, 3), dtype=bool)
    import cc3d

    rows.append(
        BenchRow(
            "metrics: cc3d 26-connected labelling",
            best_of(lambda: cc3d.connected_components(ref, connectivity=26)),
            "scipy ndimage.label",
            best_of(lambda: ndimage.label(ref, structure=cc_struct)),
        )
    )
    not_ref = ~ref
    rows.append(
        BenchRow(
            "metrics: edt distance transform",
            best_of(lambda: edt.edt(not_ref, anisotropy=SPACING, black_border=False), repeat=2),
            "scipy distance_transform_edt",
            best_of(lambda: ndimage.distance_transform_edt(not_ref, sampling=SPACING), repeat=1),
        )
    )
    return rows
