"""Lesion-wise detection metrics on connected components (``cc3d``).

Default convention ``wmh2017`` (MICCAI 2017 WMH challenge): 26-connected components; a reference lesion is
detected when any of its voxels is predicted; recall = detected reference lesions / reference lesions;
precision = predicted components overlapping the reference / predicted components; F1 = 2PR/(P+R).
Convention ``shifts`` (Shifts 2.0 MS lesions): 6-connected components, a pair matches when IoU >= 0.25, and
F1 = 2TP/(2TP+FP+FN) as in ``lesion_f1_score`` (TP, FP over predicted components, FN over reference lesions).
Recall (precision) is 1 when there is no reference lesion (predicted component).
"""

from __future__ import annotations

__all__ = [
    "LesionF1",
    "LesionMatch",
    "LesionPrecision",
    "LesionRecall",
    "LesionRecallLarge",
    "LesionRecallMedium",
    "LesionRecallSmall",
    "match_lesions",
]

from dataclasses import dataclass
from typing import ClassVar

import cc3d
import numpy as np
from numpy.typing import NDArray

from robusteval.metrics.base import METRICS, Metric, MetricContext


@dataclass(frozen=True)
class LesionMatch:
    """Per-lesion detection outcome after the minimum-size filter.

    ``ref_detected[j]``: reference lesion j matched by some predicted component; ``pred_matched[i]``:
    predicted component i matches some reference lesion; ``ref_volume_ml[j]``: volume of reference lesion j.
    """

    ref_detected: NDArray[np.bool_]
    pred_matched: NDArray[np.bool_]
    ref_volume_ml: NDArray[np.float64]

    @property
    def recall(self) -> float:
        return 1.0 if self.ref_detected.size == 0 else float(np.mean(self.ref_detected))

    @property
    def precision(self) -> float:
        return 1.0 if self.pred_matched.size == 0 else float(np.mean(self.pred_matched))


_REL_TOL = 1e-9
"""Volumes within this relative tolerance of a size edge count as reaching it (float voxel volumes)."""


def _components(
    ctx: MetricContext, dense: NDArray[np.bool_], idx: NDArray[np.intp]
) -> tuple[NDArray[np.unsignedinteger], NDArray[np.int64]]:
    """(component label of every ROI voxel, flattened; voxel count of each label 0..N)."""
    labels, n = cc3d.connected_components(
        dense, connectivity=ctx.config.lesions.connectivity, return_N=True, binary_image=True
    )
    flat = labels.reshape(-1)
    return flat, np.bincount(flat[idx].astype(np.int64), minlength=n + 1)


def _compute_match(ctx: MetricContext) -> LesionMatch:
    roi, conv = ctx.roi, ctx.config.lesions
    flat_r, size_r = _components(ctx, ctx.ref_roi, roi.ref_idx)
    flat_p, size_p = _components(ctx, ctx.pred_roi, roi.pred_idx)
    vol_r = size_r.astype(np.float64) * ctx.voxel_volume_ml
    min_ml = ctx.config.lesion_min_volume_ml * (1 - _REL_TOL)
    keep_r = vol_r >= min_ml
    keep_p = size_p * ctx.voxel_volume_ml >= min_ml
    keep_r[0] = keep_p[0] = False  # label 0 is the background
    # Overlap (voxels) of every (reference lesion j, predicted component i) pair that shares voxels.
    n_p1 = size_p.size
    key = flat_r[roi.tp_idx].astype(np.int64) * n_p1 + flat_p[roi.tp_idx].astype(np.int64)
    pair, inter = np.unique(key, return_counts=True)
    j, i = pair // n_p1, pair % n_p1
    iou = inter / (size_r[j] + size_p[i] - inter)
    ok = keep_r[j] & keep_p[i] & (iou >= conv.iou_threshold)
    detected = np.zeros(size_r.size, dtype=bool)
    detected[j[ok]] = True
    matched = np.zeros(size_p.size, dtype=bool)
    matched[i[ok]] = True
    return LesionMatch(ref_detected=detected[keep_r], pred_matched=matched[keep_p], ref_volume_ml=vol_r[keep_r])


def match_lesions(ctx: MetricContext) -> LesionMatch:
    """Components of both masks and their matching under ``ctx.config``; cached on ``ctx``."""
    return ctx.cached("lesion_match", lambda: _compute_match(ctx))


class LesionRecall(Metric):
    name = "lesion_recall"
    doc = "Detected reference lesions / reference lesions (MetricConfig.lesion_convention)."
    higher_is_better = True
    unit = ""
    empty = "no reference lesion -> 1"

    def __call__(self, ctx: MetricContext) -> float:
        return match_lesions(ctx).recall


class LesionPrecision(Metric):
    name = "lesion_precision"
    doc = "Predicted components matching a reference lesion / predicted components."
    higher_is_better = True
    unit = ""
    empty = "no predicted component -> 1"

    def __call__(self, ctx: MetricContext) -> float:
        return match_lesions(ctx).precision


class LesionF1(Metric):
    name = "lesion_f1"
    doc = "Lesion-wise F1: 2PR/(P+R) (wmh2017) or 2TP/(2TP+FP+FN) (shifts)."
    higher_is_better = True
    unit = ""
    empty = "both without lesions -> 1; exactly one without -> 0"

    def __call__(self, ctx: MetricContext) -> float:
        m = match_lesions(ctx)
        if ctx.config.lesions.f1 == "counts":
            tp = int(np.count_nonzero(m.pred_matched))
            fp = m.pred_matched.size - tp
            fn = int(np.count_nonzero(~m.ref_detected))
            return 1.0 if tp + fp + fn == 0 else 2.0 * tp / (2.0 * tp + fp + fn)
        p, r = m.precision, m.recall
        return 0.0 if p + r == 0 else 2.0 * p * r / (p + r)


class _LesionRecallBySize(Metric):
    """Lesion recall restricted to reference lesions in one volume bin of ``lesion_size_edges_ml``."""

    bin: ClassVar[int]
    higher_is_better = True
    unit = ""
    empty = "no reference lesion in the bin -> NaN"

    def __call__(self, ctx: MetricContext) -> float:
        m = match_lesions(ctx)
        e1, e2 = ctx.config.lesion_size_edges_ml
        lo, hi = ((0.0, e1), (e1, e2), (e2, np.inf))[self.bin]
        v = m.ref_volume_ml
        in_bin = (v >= lo * (1 - _REL_TOL)) & ~(v >= hi * (1 - _REL_TOL))
        if not in_bin.any():
            return ctx.undefined(self.name, f"no reference lesion of {lo:g} to {hi:g} mL")
        return float(np.mean(m.ref_detected[in_bin]))


class LesionRecallSmall(_LesionRecallBySize):
    name = "lesion_recall_small"
    doc = "Lesion recall over reference lesions smaller than the first size edge (default 0.01 mL)."
    bin = 0


class LesionRecallMedium(_LesionRecallBySize):
    name = "lesion_recall_medium"
    doc = "Lesion recall over reference lesions between the two size edges (default 0.01 to 0.1 mL)."
    bin = 1


class LesionRecallLarge(_LesionRecallBySize):
    name = "lesion_recall_large"
    doc = "Lesion recall over reference lesions at least the second size edge (default 0.1 mL)."
    bin = 2


for _metric in (
    LesionRecall(),
    LesionPrecision(),
    LesionF1(),
    LesionRecallSmall(),
    LesionRecallMedium(),
    LesionRecallLarge(),
):
    METRICS.add(_metric.name, _metric)
