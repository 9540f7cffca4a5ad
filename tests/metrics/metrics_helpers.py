"""Helpers shared by the metric tests: small masks built from boxes and random blobs.

A plain module (not ``conftest``), so that ``from metrics_helpers import ...`` cannot pick up another
directory's conftest."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage


def box(shape: tuple[int, int, int], lo: tuple[int, int, int], hi: tuple[int, int, int]) -> NDArray[np.bool_]:
    """Boolean mask of ``shape`` that is True on the half-open box [lo, hi)."""
    m = np.zeros(shape, dtype=bool)
    m[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = True
    return m


def random_masks(
    seed: int, shape: tuple[int, int, int] = (28, 32, 24), density: float = 0.1
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """A reference of smooth random blobs (about ``density`` of the voxels) and a prediction that overlaps
    it imperfectly: the reference shifted by up to 2 voxels, eroded, plus blobs of its own."""
    rng = np.random.default_rng(seed)

    def blobs(fraction: float, sigma: float) -> NDArray[np.bool_]:
        z = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
        return np.asarray(z > np.quantile(z, 1.0 - fraction))

    ref = blobs(density, 1.5)
    pred = np.roll(ref, shift=int(rng.integers(-2, 3)), axis=int(rng.integers(0, 3)))
    pred = ndimage.binary_erosion(pred) | blobs(density / 4, 1.0)
    return pred, ref
