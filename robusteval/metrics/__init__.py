"""Per-case segmentation metrics; ``METRICS`` is the registry, :func:`compute_metrics` the panel.

Modules: :mod:`~robusteval.metrics.overlap` (voxel overlap, volumes), :mod:`~robusteval.metrics.surface`
(boundary distances), :mod:`~robusteval.metrics.lesion` (lesion detection), and
:mod:`~robusteval.metrics.probabilistic` (probability / uncertainty maps). ``docs/metrics.md`` tabulates them.
"""

from __future__ import annotations

__all__ = [
    "LESION_CONVENTIONS",
    "METRICS",
    "METRIC_CONVENTIONS",
    "PANEL",
    "Metric",
    "MetricConfig",
    "MetricContext",
    "average_precision",
    "compute_metrics",
    "ndsc_retention_curve",
    "worst_distance_mm",
]

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from robusteval.metrics import lesion, overlap, probabilistic, surface  # noqa: F401  (registers the metrics)
from robusteval.metrics.base import (
    LESION_CONVENTIONS,
    METRIC_CONVENTIONS,
    METRICS,
    Metric,
    MetricConfig,
    MetricContext,
)
from robusteval.metrics.probabilistic import average_precision, ndsc_retention_curve
from robusteval.metrics.surface import worst_distance_mm

PANEL: tuple[str, ...] = (
    *("dsc", "precision", "recall", "avd", "ndsc", "vol_ref_ml", "vol_pred_ml"),
    *("hd95", "hd", "assd", "masd", "nsd"),
    *("lesion_recall", "lesion_precision", "lesion_f1"),
    *("lesion_recall_small", "lesion_recall_medium", "lesion_recall_large"),
    *("auc_pr", "ndsc_aac"),
)
"""Every registered metric, in display order (voxel, surface, lesion, probabilistic)."""


def compute_metrics(
    names: Sequence[str],
    pred: NDArray[np.bool_],
    ref: NDArray[np.bool_],
    spacing_mm: tuple[float, float, float],
    *,
    ignore: NDArray[np.bool_] | None = None,
    prob: NDArray[np.float32] | None = None,
    config: MetricConfig | None = None,
    uncertainty: NDArray[np.float32] | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """Values of the named metrics for one pair, and notes explaining any NaN (metric name -> reason).

    ``spacing_mm`` is the voxel size along the array axes; ``ignore`` voxels are excluded from every metric;
    ``prob`` (foreground probability) and ``uncertainty`` (higher = less certain) feed the probabilistic
    metrics. ``config.convention`` selects the per-metric rules (docs/metrics.md). Shared work (boundaries,
    distances, components) is done once for the whole panel.
    """
    metrics = [METRICS.get(name) for name in names]  # unknown names fail before any work
    ctx = MetricContext(
        pred,
        ref,
        spacing_mm,
        ignore=ignore,
        prob=prob,
        config=config or MetricConfig(),
        uncertainty=uncertainty,
    )
    values = {m.name: m.value(ctx) for m in metrics}
    return values, dict(ctx.notes)
