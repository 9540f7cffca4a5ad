"""Voxel-overlap and volume metrics.

P = predicted voxels, R = reference voxels, TP = |P ∩ R|, all after the ignore mask. Empty-mask conventions
follow Metrics Reloaded (Maier-Hein et al. 2024) where it defines one.
"""

from __future__ import annotations

__all__ = [
    "AVD",
    "Dice",
    "NormalizedDice",
    "Precision",
    "Recall",
    "VolumePred",
    "VolumeRef",
    "normalized_dice",
]

from robusteval.metrics.base import METRICS, Metric, MetricContext


class Dice(Metric):
    name = "dsc"
    doc = "Dice similarity coefficient 2|P∩R|/(|P|+|R|)."
    higher_is_better = True
    unit = ""
    empty = "both empty -> 1; exactly one empty -> 0"

    def __call__(self, ctx: MetricContext) -> float:
        p, r = ctx.n_pred, ctx.n_ref
        if p + r == 0:
            return 1.0
        return 2.0 * ctx.n_tp / (p + r)


class Precision(Metric):
    name = "precision"
    doc = "Voxel precision (positive predictive value) |P∩R|/|P|."
    higher_is_better = True
    unit = ""
    empty = "prediction empty: reference empty -> NaN, else 0 (Metrics Reloaded)"

    def __call__(self, ctx: MetricContext) -> float:
        if ctx.n_pred == 0:
            if ctx.n_ref == 0:
                return ctx.undefined(self.name, "both masks empty: precision undefined")
            return 0.0
        return ctx.n_tp / ctx.n_pred


class Recall(Metric):
    name = "recall"
    doc = "Voxel recall (sensitivity) |P∩R|/|R|."
    higher_is_better = True
    unit = ""
    empty = "reference empty -> NaN (Metrics Reloaded); prediction empty only -> 0"

    def __call__(self, ctx: MetricContext) -> float:
        if ctx.n_ref == 0:
            return ctx.undefined(self.name, "reference empty: recall undefined")
        return ctx.n_tp / ctx.n_ref


class AVD(Metric):
    name = "avd"
    doc = "Absolute volume difference |Vref - Vpred| / Vref x 100 (MICCAI WMH 2017)."
    higher_is_better = False
    unit = "%"
    empty = "both empty -> 0; reference empty only -> 100 (ours: Metrics Reloaded and WMH 2017 leave it undefined)"

    def __call__(self, ctx: MetricContext) -> float:
        p, r = ctx.n_pred, ctx.n_ref
        if r == 0:
            return 0.0 if p == 0 else 100.0
        return abs(r - p) / r * 100.0


def normalized_dice(tp: float, fp: float, fn: float, n_ref: float, n_voxels: float, r: float = 0.001) -> float:
    """Normalised Dice of the Shifts challenge (Raina et al. 2023; ``mswml/metrics.py dice_norm_metric``).

    nDSC = 2TP / (k·FP + 2TP + FN) with k = (1-r)|R| / (r(N-|R|)): false positives rescaled as if the
    reference occupied the fraction ``r`` of the ``n_voxels`` = N voxels. Both masks empty -> 1; reference
    empty -> k = 1 (so 0 when anything is predicted).
    """
    n_pred = tp + fp
    if n_pred + n_ref == 0:
        return 1.0
    if n_ref == 0:
        k = 1.0
    elif n_voxels - n_ref <= 0:  # the reference fills the volume: no false positive is possible
        k = 0.0
    else:
        k = (1.0 - r) * n_ref / (r * (n_voxels - n_ref))
    denom = k * fp + 2.0 * tp + fn
    return 2.0 * tp / denom if denom > 0 else 0.0


class NormalizedDice(Metric):
    name = "ndsc"
    doc = "Normalised Dice (Shifts challenge), r = 0.001 of the evaluated voxels (MetricConfig.ndsc_r)."
    higher_is_better = True
    unit = ""
    empty = "both empty -> 1; exactly one empty -> 0"

    def __call__(self, ctx: MetricContext) -> float:
        tp = ctx.n_tp
        return normalized_dice(
            tp=tp,
            fp=ctx.n_pred - tp,
            fn=ctx.n_ref - tp,
            n_ref=ctx.n_ref,
            n_voxels=ctx.n_voxels,
            r=ctx.config.ndsc_r,
        )


class VolumeRef(Metric):
    name = "vol_ref_ml"
    doc = "Reference volume (voxel count x voxel volume)."
    higher_is_better = False
    unit = "mL"
    empty = "empty reference -> 0"
    descriptive = True

    def __call__(self, ctx: MetricContext) -> float:
        return ctx.n_ref * ctx.voxel_volume_ml


class VolumePred(Metric):
    name = "vol_pred_ml"
    doc = "Predicted volume (voxel count x voxel volume)."
    higher_is_better = False
    unit = "mL"
    empty = "empty prediction -> 0"
    descriptive = True

    def __call__(self, ctx: MetricContext) -> float:
        return ctx.n_pred * ctx.voxel_volume_ml


for _metric in (Dice(), Precision(), Recall(), AVD(), NormalizedDice(), VolumeRef(), VolumePred()):
    METRICS.add(_metric.name, _metric)
