"""Boundary-distance metrics: ``hd95``, ``hd``, ``assd``, ``masd``, ``nsd``.

Two conventions (``MetricConfig.surface``):

* ``voxel`` (default; MONAI, Metrics Reloaded): boundary = mask minus its binary erosion (scipy's default
  cross-shaped element, voxels beyond the volume edge are background); every boundary voxel weighs 1. Under
  ``MetricConfig.convention`` ``wmh2017`` the erosion is the WMH 2017 challenge's instead: a 3x3 square over
  array axes 0 and 1, slice by slice, with the voxels beyond the volume edge counted as foreground.
* ``surfel`` (DeepMind ``surface-distance``): boundary elements are the corners of the voxel grid whose 2x2x2
  neighbourhood is mixed, each weighted by its marching-cubes surface area (mm²).

Distances are Euclidean in mm (``spacing_mm`` per array axis), from each boundary element of one mask to the
nearest boundary element of the other. Both boundaries are extracted once and each direction is searched once
per context; every metric reads the cached :class:`SurfaceDistances`.

Ties: a distance equal to a threshold (``nsd``'s tolerance) counts as within it, whichever backend computed it.
The backends round differently (the KD-tree takes differences of float64 mm coordinates, ``edt`` stores
float32 squared distances), so :func:`within_mm` compares with a relative slack of :data:`TIE_RTOL`.
"""

from __future__ import annotations

__all__ = [
    "ASSD",
    "HD",
    "HD95",
    "MASD",
    "NSD",
    "TIE_RTOL",
    "Boundary",
    "SurfaceDistances",
    "surface_distances",
    "within_mm",
    "worst_distance_mm",
]

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from robusteval.metrics._native import kdtree_nearest_mm, squared_edt_mm2
from robusteval.metrics._surfel_table import NEIGHBOUR_KERNEL, surfel_area_table
from robusteval.metrics.base import METRICS, Metric, MetricContext

_KDTREE_DENSITY = 5
"""``auto`` backend: KD-tree when 5 x (boundary elements) < ROI voxels, else dense EDT (both exact)."""

TIE_RTOL = 1e-6
"""Relative slack of every distance-vs-threshold comparison, so an exact tie counts as within the threshold.

The exact distance sqrt(sum((n_i s_i)^2)) of a tie comes out of the backends a few float ulps above the
threshold (e.g. 2 x 0.9 mm: 1.8000000000000003 from the KD-tree; 2 x 1.2 mm: 2.4000000477 from ``edt``'s
float32). 1e-6 is about 10x ``edt``'s float32 error and 1 nm per mm: no two distinct grid distances of a
realistic spacing are that close."""


def within_mm(distances_mm: NDArray[np.float64], threshold_mm: float) -> NDArray[np.bool_]:
    """``distances_mm <= threshold_mm``, a tie (equal up to :data:`TIE_RTOL` relative) counting as within."""
    return np.asarray(distances_mm <= threshold_mm * (1.0 + TIE_RTOL))


def worst_distance_mm(shape: tuple[int, ...], spacing_mm: tuple[float, ...]) -> float:
    """Image diagonal in mm, sqrt(sum((n_i * s_i)^2)): an upper bound on any distance within the image.

    Used at aggregation to replace the NaN distances of cases where exactly one mask is empty.
    """
    if len(shape) != len(spacing_mm):
        raise ValueError(f"shape {shape} and spacing {spacing_mm} differ in dimension")
    return float(np.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing_mm, strict=True))))


@dataclass(frozen=True)
class Boundary:
    """Boundary elements of one mask: flat indices into the ROI grid, and their weights.

    ``weights`` is None in the voxel convention (each element weighs 1) and the surfel areas in mm² otherwise.
    """

    idx: NDArray[np.intp]
    weights: NDArray[np.float64] | None


@dataclass(frozen=True)
class SurfaceDistances:
    """Directed nearest-boundary distances (mm) of both masks, with the element weights (None = 1 each).

    In the surfel convention each direction is sorted by (distance, area), as ``surface-distance`` does.
    """

    pred_to_ref: NDArray[np.float64]
    ref_to_pred: NDArray[np.float64]
    pred_weights: NDArray[np.float64] | None
    ref_weights: NDArray[np.float64] | None


def _strides(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    return (shape[1] * shape[2], shape[2], 1)


def _voxel_boundary(dense: NDArray[np.bool_], idx: NDArray[np.intp]) -> Boundary:
    """Foreground voxels with at least one of their 6 face neighbours in the background."""
    flat = dense.reshape(-1)
    interior = np.ones(idx.size, dtype=bool)
    for step in _strides((dense.shape[0], dense.shape[1], dense.shape[2])):
        interior &= flat[idx + step]
        interior &= flat[idx - step]
    return Boundary(idx[~interior], None)


def _inplane_boundary(
    dense: NDArray[np.bool_], idx: NDArray[np.intp], origin: tuple[int, ...], volume_shape: tuple[int, ...]
) -> Boundary:
    """Foreground voxels with a background voxel among their 8 neighbours in the plane of array axes 0 and 1
    (the WMH 2017 challenge: ``sitk.BinaryErode`` with radius (1, 1, 0), a 3x3 square, subtracted from the
    mask). A neighbour beyond the volume edge counts as foreground (ITK's ``BoundaryToForeground``), so the
    edge of the volume makes no boundary. ``origin``: the volume index of ROI voxel (0, 0, 0)."""
    flat = dense.reshape(-1)
    s0, s1, _ = _strides((dense.shape[0], dense.shape[1], dense.shape[2]))
    at = np.unravel_index(idx, dense.shape)
    v0, v1 = at[0] + origin[0], at[1] + origin[1]  # volume indices along the two in-plane axes
    interior = np.ones(idx.size, dtype=bool)
    for d0 in (-1, 0, 1):
        beyond0 = (v0 + d0 < 0) | (v0 + d0 >= volume_shape[0])
        for d1 in (-1, 0, 1):
            if d0 == d1 == 0:
                continue
            beyond = beyond0 | (v1 + d1 < 0) | (v1 + d1 >= volume_shape[1])
            interior &= flat[idx + d0 * s0 + d1 * s1] | beyond
    return Boundary(idx[~interior], None)


_CELL = [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]


def _surfel_boundary(dense: NDArray[np.bool_], idx: NDArray[np.intp], spacing: tuple[float, float, float]) -> Boundary:
    """Grid corners whose 2x2x2 cell (corner ``c`` spans ROI voxels ``c`` and ``c+1`` per axis) is mixed.

    The cell code uses the bit order of ``surface-distance`` and maps to the cell's surfel area.
    """
    flat = dense.reshape(-1)
    s0, s1, s2 = _strides((dense.shape[0], dense.shape[1], dense.shape[2]))
    offsets = np.array([a * s0 + b * s1 + c * s2 for a, b, c in _CELL], dtype=np.intp)
    # Every corner of a foreground voxel: the cells that contain it.
    corners = np.unique((idx[:, None] - offsets[None, :]).reshape(-1))
    code = np.zeros(corners.size, dtype=np.uint8)
    for (a, b, c), off in zip(_CELL, offsets, strict=True):
        code += flat[corners + off].astype(np.uint8) * np.uint8(NEIGHBOUR_KERNEL[a][b][c])
    mixed = code != 255  # code 0 cannot occur: every corner touches a foreground voxel
    return Boundary(corners[mixed], surfel_area_table(spacing)[code[mixed]])


def _coords_mm(
    idx: NDArray[np.intp], shape: tuple[int, int, int], spacing: tuple[float, float, float]
) -> NDArray[np.float64]:
    coords = np.stack(np.unravel_index(idx, shape), axis=1).astype(np.float64)
    return coords * np.asarray(spacing, dtype=np.float64)


def _nearest_mm(
    src: NDArray[np.intp],
    dst: NDArray[np.intp],
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    use_kdtree: bool,
) -> NDArray[np.float64]:
    """Distance (mm) from each grid point ``src`` to the nearest grid point of ``dst``."""
    if use_kdtree:
        return kdtree_nearest_mm(_coords_mm(src, shape, spacing), _coords_mm(dst, shape, spacing))
    grid = np.ones(shape, dtype=bool)
    grid.reshape(-1)[dst] = False
    squared = squared_edt_mm2(grid, spacing).reshape(-1)[src]
    return np.sqrt(squared.astype(np.float64))


def _boundary(ctx: MetricContext, dense: NDArray[np.bool_], idx: NDArray[np.intp]) -> Boundary:
    """The boundary elements of one mask (ROI-sized ``dense``, foreground ``idx``) as ``ctx.config`` says."""
    kind = ctx.config.boundary
    if kind == "surfel":
        return _surfel_boundary(dense, idx, ctx.spacing_mm)
    if kind == "inplane2d":
        return _inplane_boundary(dense, idx, ctx.roi.origin, ctx.pred.shape)
    return _voxel_boundary(dense, idx)


def _compute_surface_distances(ctx: MetricContext) -> SurfaceDistances:
    roi, spacing = ctx.roi, ctx.spacing_mm
    bp = _boundary(ctx, ctx.pred_roi, roi.pred_idx)
    br = _boundary(ctx, ctx.ref_roi, roi.ref_idx)
    backend = ctx.config.distance_backend
    n_elements = bp.idx.size + br.idx.size
    use_kdtree = backend == "kdtree" or (
        backend == "auto" and _KDTREE_DENSITY * n_elements < roi.shape[0] * roi.shape[1] * roi.shape[2]
    )
    d_pr = _nearest_mm(bp.idx, br.idx, roi.shape, spacing, use_kdtree)
    d_rp = _nearest_mm(br.idx, bp.idx, roi.shape, spacing, use_kdtree)
    if bp.weights is None or br.weights is None:
        return SurfaceDistances(d_pr, d_rp, None, None)
    order_p = np.lexsort((bp.weights, d_pr))
    order_r = np.lexsort((br.weights, d_rp))
    return SurfaceDistances(d_pr[order_p], d_rp[order_r], bp.weights[order_p], br.weights[order_r])


def surface_distances(ctx: MetricContext) -> SurfaceDistances:
    """The directed boundary distances of a pair where both masks are non-empty; cached on ``ctx``."""
    if ctx.n_pred == 0 or ctx.n_ref == 0:
        raise ValueError("surface distances need two non-empty masks")
    return ctx.cached("surface_distances", lambda: _compute_surface_distances(ctx))


def _percentile(d: NDArray[np.float64], w: NDArray[np.float64] | None, q: float) -> float:
    """Directed ``q``-th percentile: linear interpolation (numpy/MONAI) or, with weights, the first distance
    whose cumulative area fraction reaches q/100 (``surface_distance.compute_robust_hausdorff``)."""
    if w is None:
        return float(np.percentile(d, q))
    cum = np.cumsum(w) / np.sum(w)
    i = int(np.searchsorted(cum, q / 100.0))
    return float(d[min(i, d.size - 1)])


def _total(d: NDArray[np.float64], w: NDArray[np.float64] | None) -> float:
    return float(np.sum(d)) if w is None else float(np.sum(d * w))


def _weight(d: NDArray[np.float64], w: NDArray[np.float64] | None) -> float:
    return float(d.size) if w is None else float(np.sum(w))


def _within(d: NDArray[np.float64], w: NDArray[np.float64] | None, tau: float) -> float:
    """Number (or surfel area, mm²) of the elements at distance <= ``tau`` mm, ties included."""
    close = within_mm(d, tau)
    return float(np.count_nonzero(close)) if w is None else float(np.sum(w[close]))


def _one_empty(ctx: MetricContext, name: str) -> bool:
    """True when exactly one mask is empty (a NaN distance), recording why in ``ctx.notes``."""
    p, r = ctx.n_pred > 0, ctx.n_ref > 0
    if p == r:
        return False
    ctx.notes[name] = "prediction empty" if not p else "reference empty"
    return True


_DISTANCE_EMPTY = "both empty -> 0; exactly one empty -> NaN (replaced by worst_distance_mm at aggregation)"


class _Distance(Metric):
    """A boundary distance in mm, lower is better: 0 when both masks are empty, NaN (with the reason in
    ``ctx.notes``) when exactly one is, else :meth:`distance` of the two directed distance sets."""

    higher_is_better = False
    unit = "mm"
    empty = _DISTANCE_EMPTY

    @abstractmethod
    def distance(self, s: SurfaceDistances) -> float:
        """The distance from both boundaries' directed distances (and their surfel weights)."""

    def __call__(self, ctx: MetricContext) -> float:
        if ctx.n_pred + ctx.n_ref == 0:
            return 0.0
        if _one_empty(ctx, self.name):
            return float("nan")
        return self.distance(surface_distances(ctx))


class HD95(_Distance):
    name = "hd95"
    doc = "95th-percentile Hausdorff distance: max of the two directed 95th percentiles (not pooled)."

    def distance(self, s: SurfaceDistances) -> float:
        return max(_percentile(s.pred_to_ref, s.pred_weights, 95.0), _percentile(s.ref_to_pred, s.ref_weights, 95.0))


class HD(_Distance):
    name = "hd"
    doc = "Hausdorff distance: the largest directed boundary distance, either direction."

    def distance(self, s: SurfaceDistances) -> float:
        return max(
            _percentile(s.pred_to_ref, s.pred_weights, 100.0),
            _percentile(s.ref_to_pred, s.ref_weights, 100.0),
        )


class ASSD(_Distance):
    name = "assd"
    doc = "Average symmetric surface distance: mean of the pooled directed distances of both boundaries."

    def distance(self, s: SurfaceDistances) -> float:
        total = _total(s.pred_to_ref, s.pred_weights) + _total(s.ref_to_pred, s.ref_weights)
        return total / (_weight(s.pred_to_ref, s.pred_weights) + _weight(s.ref_to_pred, s.ref_weights))


class MASD(_Distance):
    name = "masd"
    doc = "Mean average surface distance: mean of the two directed mean distances."

    def distance(self, s: SurfaceDistances) -> float:
        mean_p = _total(s.pred_to_ref, s.pred_weights) / _weight(s.pred_to_ref, s.pred_weights)
        mean_r = _total(s.ref_to_pred, s.ref_weights) / _weight(s.ref_to_pred, s.ref_weights)
        return 0.5 * (mean_p + mean_r)


class NSD(Metric):
    name = "nsd"
    doc = "Normalised surface distance (surface Dice): fraction of both boundaries within τ mm of the other."
    higher_is_better = True
    unit = ""
    empty = "both empty -> 1; exactly one empty -> 0"

    def __call__(self, ctx: MetricContext) -> float:
        if ctx.n_pred + ctx.n_ref == 0:
            return 1.0
        if ctx.n_pred == 0 or ctx.n_ref == 0:
            return 0.0
        s, tau = surface_distances(ctx), ctx.config.nsd_tolerance_mm
        close = _within(s.pred_to_ref, s.pred_weights, tau) + _within(s.ref_to_pred, s.ref_weights, tau)
        return close / (_weight(s.pred_to_ref, s.pred_weights) + _weight(s.ref_to_pred, s.ref_weights))


for _metric in (HD95(), HD(), ASSD(), MASD(), NSD()):
    METRICS.add(_metric.name, _metric)
