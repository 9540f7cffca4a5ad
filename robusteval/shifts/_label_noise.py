"""What the boundary label-noise shifts share: the calibration, a smooth random field, the dithered pull-back.

``label_erode``, ``label_dilate`` and ``label_elastic`` move the reference's boundary by millimetres, not
voxels, and their severities are multiples of one number, :data:`INTER_RATER_BOUNDARY_MM`.

**Dithered pull-back.** Each shift maps a voxel centre ``v`` to a point ``v + offset(v)`` and reads the clean
label there by linear interpolation, ``q = label(v + offset) in [0, 1]``; the voxel is labelled when
``u(v) < q``, with ``u`` a smooth random field that is uniform on [0, 1] at every point. An offset of 0 gives
``q`` = the label itself (the identity); an offset of a whole voxel along an axis shifts the boundary by a
voxel; a fraction ``f`` of a voxel labels the next boundary layer where ``u < f``, so the *expected* boundary
displacement is the offset in mm on any grid instead of rounding to 0 or 1 voxel, and because ``u`` is smooth
(correlation :data:`DITHER_CORRELATION_MM`), the displaced boundary wanders in patches like a rater's rather
than as salt-and-pepper voxels. Linear interpolation sums to one over the grid, so for a translation the
expected labelled volume is exact for every orientation of the boundary.

**Random fields** are functions of world position (mm), drawn from a recorded integer seed (random Fourier
features): one seed gives the same field on any grid, and after a flip or permutation of the arrays.
"""

from __future__ import annotations

__all__ = [
    "BOUNDARY_MULTIPLIERS",
    "DITHER_CORRELATION_MM",
    "INTER_RATER_BOUNDARY_MM",
    "NORMAL_SMOOTHING_VOX",
    "boundary_mm",
    "crop_around",
    "crop_origin",
    "dithered_pullback",
    "inside_outside_mm",
    "keep_lesion_cores",
    "native_mask",
    "outward_normals",
    "smooth_field",
    "uniform_field",
    "world_points",
]

import math
from collections.abc import Sequence

import cc3d
import edt
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, special

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]
MaskArray = NDArray[np.bool_]
Spacing = Sequence[float] | NDArray[np.float64]  # voxel size (mm) along the array axes

INTER_RATER_BOUNDARY_MM = 0.68
"""Mean symmetric boundary distance (mm) between two raters' delineations of the embedded synthetic data
(generator 2): the realism card's ``inter-rater boundary distance`` (surface distance between the lesions both
raters found; detection disagreement is ``label_drop_small``'s), 0.68 mm as the mean over the first 12 site-A
test subjects at 2 mm, seed 0 (site A: the site whose held-out cases the shifts are applied to). The scale of
every boundary label-noise severity (severity 3 moves the boundary by this much on average, see
:data:`BOUNDARY_MULTIPLIERS`). When the generator changes, re-measure (``python -m robusteval data realism``),
change only this number, then regenerate docs/shifts.md's tables with ``python -m robusteval shifts table``;
``tests/data/test_data_synthetic_v2.py`` checks it against the card."""

BOUNDARY_MULTIPLIERS = (0.25, 0.5, 1.0, 1.5, 2.0)
"""Severity 1..5 as multiples of :data:`INTER_RATER_BOUNDARY_MM` (severity 3: one inter-rater distance)."""

DITHER_CORRELATION_MM = 4.0
"""Length scale (mm) of the dithering field ``u``: the patches in which a sub-voxel displacement is rounded
up or down together (the Gaussian covariance ``exp(-r^2 / (2 l^2))``)."""

NORMAL_SMOOTHING_VOX = 1.0
"""Gaussian standard deviation (voxels, per axis) that smooths the signed distance before its gradient gives
the boundary normals, removing the voxel staircase."""

N_FEATURES = 64  # random Fourier features per field: the marginal is normal to within a kurtosis of -1.5/64
_CHUNK = 32768  # points per block when a field is evaluated (bounds the (points x features) temporary)
_MIN_GRADIENT = 1e-6  # |grad| below this (mm/mm): no normal (a lesion's centre of symmetry); the voxel stays


def boundary_mm(severity: int) -> float:
    """Mean boundary displacement (mm) at ``severity`` 0..5: ``BOUNDARY_MULTIPLIERS[s - 1] x INTER_RATER_BOUNDARY_MM``
    (0 at severity 0), rounded to 6 decimals like the severity tables."""
    if severity == 0:
        return 0.0
    return round(BOUNDARY_MULTIPLIERS[severity - 1] * INTER_RATER_BOUNDARY_MM, 6)


def world_points(affine: NDArray[np.float64], voxels: IndexArray) -> FloatArray:
    """World coordinates (mm, ``(n, 3)``) of voxel indices ``voxels`` (``(n, 3)``); elementwise, no BLAS, so the
    values are the same bits in every process."""
    a = np.asarray(affine, dtype=np.float64)
    v = voxels.astype(np.float64)
    return np.stack([a[i, 0] * v[:, 0] + a[i, 1] * v[:, 1] + a[i, 2] * v[:, 2] + a[i, 3] for i in range(3)], axis=1)


def smooth_field(seed: int, stream: int, points_mm: FloatArray, correlation_mm: float) -> FloatArray:
    """A stationary Gaussian random field at world ``points_mm`` (``(n, 3)``): mean 0, variance 1, covariance
    ``exp(-r^2 / (2 correlation_mm^2))``.

    Random Fourier features (Rahimi & Recht 2007): ``sqrt(2 / N) sum_j cos(w_j . x + phi_j)`` with
    ``w_j ~ N(0, I / correlation_mm^2)``, ``phi_j ~ U(0, 2 pi)``, ``N = 64``, drawn from
    ``default_rng([seed, stream])``. A function of world position only: the same on every grid.
    """
    rng = np.random.default_rng([int(seed), int(stream)])
    omega = rng.standard_normal((N_FEATURES, 3)) / float(correlation_mm)
    phase = rng.uniform(0.0, 2.0 * math.pi, N_FEATURES)
    out = np.empty(len(points_mm), dtype=np.float64)
    for start in range(0, len(points_mm), _CHUNK):
        p = points_mm[start : start + _CHUNK]
        arg = p[:, 0:1] * omega[:, 0] + p[:, 1:2] * omega[:, 1] + p[:, 2:3] * omega[:, 2] + phase
        # phases in float64, cosines in float32 (SIMD, ~5x faster; the field is exact to ~1e-5)
        out[start : start + _CHUNK] = np.cos(arg.astype(np.float32)).sum(axis=1, dtype=np.float64)
    return out * math.sqrt(2.0 / N_FEATURES)


def uniform_field(seed: int, points_mm: FloatArray, correlation_mm: float) -> FloatArray:
    """The dithering field ``u = Phi(smooth_field(seed, 0, ...))``: uniform on (0, 1) at every point, smooth."""
    return np.asarray(special.ndtr(smooth_field(seed, 0, points_mm, correlation_mm)), dtype=np.float64)


def crop_around(mask: MaskArray, margin_vox: Sequence[int]) -> tuple[slice, slice, slice]:
    """The bounding box of ``mask`` grown by ``margin_vox`` voxels per axis, clipped to the array."""
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(axis=0) - np.asarray(margin_vox), 0)
    hi = np.minimum(idx.max(axis=0) + np.asarray(margin_vox) + 1, mask.shape)
    return (slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1])), slice(int(lo[2]), int(hi[2])))


def native_mask(mask: MaskArray) -> MaskArray:
    """``mask`` as a C-contiguous, writable bool array for the Cython kernels (``edt``, ``cc3d``), which refuse
    read-only buffers ("buffer source array is read-only"): a case shipped through Ray's object store arrives
    read-only. Copies only when needed; the input is never modified."""
    return np.require(mask, dtype=np.bool_, requirements=["C", "W"])


def inside_outside_mm(label: MaskArray, spacing_mm: Spacing) -> tuple[FloatArray, FloatArray]:
    """Distances (mm) from each label voxel to the nearest background voxel centre, and from each background
    voxel to the nearest label voxel centre (0 elsewhere); the array's edge is not a boundary. ``label`` may be
    read-only."""
    aniso = tuple(float(s) for s in spacing_mm)
    lab = native_mask(label)
    inside = np.asarray(edt.edt(lab, anisotropy=aniso, black_border=False), dtype=np.float64)
    outside = np.asarray(edt.edt(np.ascontiguousarray(~lab), anisotropy=aniso, black_border=False), dtype=np.float64)
    return inside, outside


def outward_normals(signed_mm: FloatArray, spacing_mm: Spacing, voxels: IndexArray) -> FloatArray:
    """Unit outward normals (``(n, 3)``, components along the array axes) at ``voxels``: minus the normalised
    gradient of the signed distance ``signed_mm`` (positive inside) after a Gaussian of
    :data:`NORMAL_SMOOTHING_VOX` voxels; 0 where the gradient vanishes."""
    smooth = ndimage.gaussian_filter(signed_mm, NORMAL_SMOOTHING_VOX, mode="nearest")
    grads = np.gradient(smooth, *[float(s) for s in spacing_mm])
    at = (voxels[:, 0], voxels[:, 1], voxels[:, 2])
    g = np.stack([grad[at] for grad in grads], axis=1)
    norm = np.sqrt((g**2).sum(axis=1))
    ok = norm > _MIN_GRADIENT
    out = np.zeros_like(g)
    out[ok] = -g[ok] / norm[ok, None]
    return out


def dithered_pullback(
    label: MaskArray,
    voxels: IndexArray,
    offsets_vox: FloatArray,
    world: tuple[NDArray[np.float64], Sequence[int]],
    seed: int,
    correlation_mm: float,
) -> MaskArray:
    """Whether each of ``voxels`` (indices into ``label``) is labelled after the pull-back (see the module doc).

    ``q`` = ``label`` linearly interpolated at ``voxels + offsets_vox`` (beyond the array's edge: the nearest
    edge voxel); ``q = 1`` -> labelled, ``q = 0`` -> not, otherwise ``u < q`` with ``u`` the dithering field of
    ``seed`` at the voxels' world positions; ``world = (affine, origin)``: ``label`` is a crop starting at
    voxel ``origin`` of the array that ``affine`` maps to world mm. ``u`` is evaluated only where ``0 < q < 1``.
    """
    coords = (voxels.astype(np.float64) + offsets_vox).T
    q = ndimage.map_coordinates(label.astype(np.float64), coords, order=1, mode="nearest")
    out = q >= 1.0
    partial = np.flatnonzero((q > 0.0) & (q < 1.0))
    if partial.size:
        affine, origin = world
        points = world_points(affine, voxels[partial] + np.asarray(origin, dtype=np.intp))
        out[partial] = uniform_field(seed, points, correlation_mm) < q[partial]
    return np.asarray(out, dtype=bool)


def crop_origin(box: tuple[slice, slice, slice]) -> tuple[int, int, int]:
    """The first voxel of a crop made by :func:`crop_around`."""
    return (int(box[0].start), int(box[1].start), int(box[2].start))


def keep_lesion_cores(before: MaskArray, after: MaskArray, depth_mm: FloatArray) -> MaskArray:
    """``after`` plus the core of every 26-connected lesion of ``before``: its deepest voxel (largest
    ``depth_mm``; ties: the first in raster order), so that no lesion disappears."""
    components = cc3d.connected_components(native_mask(before), connectivity=26)
    flat = np.flatnonzero(components)
    ids = components.ravel()[flat]
    order = np.lexsort((flat, -depth_mm.ravel()[flat], ids))
    _, first = np.unique(ids[order], return_index=True)
    out = after.copy()
    out.flat[flat[order[first]]] = True
    return out
