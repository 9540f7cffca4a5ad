"""Typed wrappers around the untyped native kernels used by the metrics (``edt``, scipy's KD-tree).

The modules are imported through :mod:`importlib` so that type checking needs no stubs for them; every
wrapper states its array types.
"""

from __future__ import annotations

__all__ = ["kdtree_nearest_mm", "squared_edt_mm2"]

import importlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

_edt: Any = importlib.import_module("edt")
_spatial: Any = importlib.import_module("scipy.spatial")


def squared_edt_mm2(features_false: NDArray[np.bool_], spacing_mm: tuple[float, float, float]) -> NDArray[np.float32]:
    """Squared Euclidean distance (mm²) from every voxel to the nearest False voxel.

    ``spacing_mm`` is per array axis (C order). The array edge is not a feature (``black_border=False``);
    a volume without any False voxel gives ``inf`` everywhere. A read-only input is copied (``edt`` refuses
    read-only buffers); the input is never modified.
    """
    grid = np.require(features_false, dtype=np.bool_, requirements=["C", "W"])
    out = _edt.edtsq(grid, anisotropy=spacing_mm, black_border=False)
    return np.asarray(out, dtype=np.float32)


def kdtree_nearest_mm(queries_mm: NDArray[np.float64], targets_mm: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean distance (mm) from each query point to its nearest target point (exact, single thread)."""
    tree = _spatial.cKDTree(targets_mm, balanced_tree=False, compact_nodes=False)
    dist, _ = tree.query(queries_mm, k=1, workers=1)
    return np.asarray(dist, dtype=np.float64)
