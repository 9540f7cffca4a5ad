"""Metrics of the model's voxel probabilities and uncertainties: ``auc_pr`` and the Shifts ``ndsc_aac``.

Voxels under the ignore mask are left out. Without a probability map (uncertainty map) the metric is NaN
with the note "no probability map" ("no uncertainty map").
"""

from __future__ import annotations

__all__ = ["AUCPR", "NDSCRetentionAAC", "average_precision", "ndsc_retention_curve"]

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from robusteval.metrics.base import METRICS, Metric, MetricContext
from robusteval.metrics.overlap import normalized_dice

S = TypeVar("S", bound=np.generic)


def average_precision(y_true: NDArray[np.bool_], score: NDArray[np.floating]) -> float:
    """Average precision of ``score`` for the voxels ``y_true``: sum over thresholds of ΔRecall x Precision.

    Same value as ``sklearn.metrics.average_precision_score`` (every distinct score a threshold, a voxel is
    positive when its score >= threshold). Cost O(N log m), m = distinct scores of the positives; needs >= 1
    positive.
    """
    y = np.asarray(y_true, dtype=bool).reshape(-1)
    s = np.asarray(score).reshape(-1)
    pos = s[y]
    if pos.size == 0:
        raise ValueError("average precision needs at least one positive voxel")
    thresholds, n_at = np.unique(pos, return_counts=True)  # ascending; positives scoring exactly t_j
    tp_ge = np.cumsum(n_at[::-1])[::-1]  # positives scoring >= t_j
    candidates = s[s >= thresholds[0]]
    above = candidates[candidates > thresholds[0]]
    # hist[k]: voxels scoring in [t_k, t_k+1) (1-based k), so counted at thresholds t_1..t_k.
    hist = np.bincount(np.searchsorted(thresholds, above, side="right"), minlength=thresholds.size + 1)
    hist[1] += candidates.size - above.size
    n_ge = np.cumsum(hist[::-1])[::-1][1:]  # voxels scoring >= t_j
    return float(np.sum(n_at * (tp_ge / n_ge)) / pos.size)


def _retention_fractions(n_points: int) -> NDArray[np.float64]:
    """log(1..n)/log(n): the Shifts log-spaced fractions, denser near full retention."""
    fracs = np.log(np.arange(1, n_points + 1, dtype=np.float64))
    return np.asarray(fracs / fracs.max(), dtype=np.float64)


def _kept_counts(
    u: NDArray[np.floating], keep: NDArray[np.int64], classes: list[NDArray[np.intp]]
) -> list[NDArray[np.int64]]:
    """For each voxel class (flat indices), how many of its voxels are among the first ``keep[k]`` voxels
    in the order of (uncertainty, index), for every k.

    Equivalent to a stable argsort of ``u`` but only sorts the values (much faster than an argsort of a
    whole volume): the first K voxels are those with u < t = sorted(u)[K], plus the first
    K - #{u < t} voxels with u == t in index order.
    """
    n = u.size
    s = np.sort(u)
    class_u = [u[c] for c in classes]
    class_u_sorted = [np.sort(cu) for cu in class_u]
    ties: dict[float, NDArray[np.intp]] = {}
    out = [np.zeros(keep.size, dtype=np.int64) for _ in classes]
    for k, kk in enumerate(keep.tolist()):
        if kk >= n:
            for counts, c in zip(out, classes, strict=True):
                counts[k] = c.size
            continue
        if kk == 0:
            continue
        t = s[kk]
        extra = kk - int(np.searchsorted(s, t, side="left"))  # voxels with u == t that are kept
        for counts, c, cu, cu_sorted in zip(out, classes, class_u, class_u_sorted, strict=True):
            count = int(np.searchsorted(cu_sorted, t, side="left"))
            if extra > 0:
                tied = c[cu == t]
                if tied.size:
                    key = float(t)
                    if key not in ties:
                        ties[key] = np.flatnonzero(u == t)
                    count += int(np.count_nonzero(tied < ties[key][extra]))
            counts[k] = count
    return out


def ndsc_retention_curve(
    pred: NDArray[np.bool_],
    ref: NDArray[np.bool_],
    uncertainty: NDArray[np.floating],
    *,
    n_points: int = 200,
    r: float = 0.001,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(retention fractions, nDSC at each) of the Shifts nDSC retention curve (``mswml/metrics.py``).

    Voxels are ranked by increasing uncertainty (ties kept in voxel order); at fraction f the first
    int(N·f) voxels keep the prediction and the others take the reference value (referred to an expert).
    The fractions are log(1..n_points)/log(n_points), so the curve starts at f = 0 (nDSC 1) and ends at f = 1.
    """
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2, got {n_points}")
    p = np.asarray(pred, dtype=bool).reshape(-1)
    g = np.asarray(ref, dtype=bool).reshape(-1)
    u = np.asarray(uncertainty).reshape(-1)
    n = p.size
    fracs = _retention_fractions(n_points)
    keep = (n * fracs).astype(np.int64)  # int() truncation, as in Shifts
    tp_kept, fp_kept, fn_kept, ref_kept = _kept_counts(
        u, keep, [np.flatnonzero(p & g), np.flatnonzero(p & ~g), np.flatnonzero(~p & g), np.flatnonzero(g)]
    )
    n_ref = int(np.count_nonzero(g))
    scores = np.array(
        [
            normalized_dice(
                tp=float(tp_kept[k] + (n_ref - ref_kept[k])),
                fp=float(fp_kept[k]),
                fn=float(fn_kept[k]),
                n_ref=n_ref,
                n_voxels=n,
                r=r,
            )
            for k in range(n_points)
        ]
    )
    return fracs, scores


def _kept(ctx: MetricContext, a: NDArray[S]) -> NDArray[S]:
    """``a`` over the non-ignored voxels, flattened."""
    return a.reshape(-1) if ctx.ignore is None else a[~ctx.ignore]


class AUCPR(Metric):
    name = "auc_pr"
    doc = "Average precision of the probability map over voxels (sklearn average_precision_score)."
    higher_is_better = True
    unit = ""
    empty = "reference empty -> NaN; no probability map -> NaN"

    def __call__(self, ctx: MetricContext) -> float:
        if ctx.prob is None:
            return ctx.undefined(self.name, "no probability map")
        if ctx.n_ref == 0:
            return ctx.undefined(self.name, "reference empty: average precision undefined")
        score = _kept(ctx, ctx.prob)
        if np.isnan(score).any():
            return ctx.undefined(self.name, "probability map contains NaN")
        return average_precision(_kept(ctx, ctx.ref), score)


class NDSCRetentionAAC(Metric):
    name = "ndsc_aac"
    doc = "Area above the nDSC retention curve (Shifts nDSC R-AAC): 1 - trapezoidal area under it."
    higher_is_better = False
    unit = ""
    empty = "both empty -> 0; no uncertainty map -> NaN"

    def __call__(self, ctx: MetricContext) -> float:
        if ctx.uncertainty is None:
            return ctx.undefined(self.name, "no uncertainty map")
        unc = _kept(ctx, ctx.uncertainty)
        if np.isnan(unc).any():
            return ctx.undefined(self.name, "uncertainty map contains NaN")
        fracs, scores = ndsc_retention_curve(_kept(ctx, ctx.pred), _kept(ctx, ctx.ref), unc, r=ctx.config.ndsc_r)
        return 1.0 - float(np.trapezoid(scores, fracs))


for _metric in (AUCPR(), NDSCRetentionAAC()):
    METRICS.add(_metric.name, _metric)
