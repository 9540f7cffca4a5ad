"""Voxel-overlap and volume metrics: hand-computed boxes, empty masks, the ignore mask."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_helpers import box, random_masks

from robusteval.metrics import MetricConfig, compute_metrics
from robusteval.metrics.overlap import normalized_dice

VOXEL = ["dsc", "precision", "recall", "avd", "ndsc", "vol_ref_ml", "vol_pred_ml"]


def test_overlapping_boxes_by_hand() -> None:
    # ref: 4x4x4 = 64 voxels; pred: 4x4x6 = 96 voxels shifted by 2 on axis 2 -> overlap 4x4x2 = 32.
    shape = (10, 10, 12)
    ref = box(shape, (2, 2, 2), (6, 6, 6))
    pred = box(shape, (2, 2, 4), (6, 6, 10))
    spacing = (0.5, 1.0, 2.0)  # 1 mm³ voxels
    values, notes = compute_metrics(VOXEL, pred, ref, spacing)
    n = 10 * 10 * 12
    k = (1 - 0.001) * 64 / (0.001 * (n - 64))
    assert notes == {}
    assert values == pytest.approx(
        {
            "dsc": 2 * 32 / (64 + 96),
            "precision": 32 / 96,
            "recall": 32 / 64,
            "avd": abs(64 - 96) / 64 * 100,
            "ndsc": 2 * 32 / (k * 64 + 2 * 32 + 32),
            "vol_ref_ml": 64 * 1.0 / 1000,
            "vol_pred_ml": 96 * 1.0 / 1000,
        }
    )


def test_volumes_use_the_voxel_size() -> None:
    ref = box((5, 5, 5), (0, 0, 0), (2, 2, 2))
    values, _ = compute_metrics(["vol_ref_ml", "vol_pred_ml"], ref, ref, (0.9375, 0.9375, 3.0))
    assert values["vol_ref_ml"] == pytest.approx(8 * 0.9375 * 0.9375 * 3.0 / 1000)
    assert values["vol_pred_ml"] == values["vol_ref_ml"]


def test_both_empty() -> None:
    empty = np.zeros((4, 4, 4), dtype=bool)
    values, notes = compute_metrics(VOXEL, empty, empty, (1.0, 1.0, 1.0))
    assert values["dsc"] == 1.0
    assert values["ndsc"] == 1.0
    assert values["avd"] == 0.0
    assert values["vol_ref_ml"] == values["vol_pred_ml"] == 0.0
    assert math.isnan(values["precision"])
    assert math.isnan(values["recall"])
    assert set(notes) == {"precision", "recall"}


def test_prediction_empty() -> None:
    ref = box((6, 6, 6), (1, 1, 1), (3, 3, 3))
    values, notes = compute_metrics(VOXEL, np.zeros_like(ref), ref, (1.0, 1.0, 1.0))
    assert values["dsc"] == 0.0
    assert values["ndsc"] == 0.0
    assert values["precision"] == 0.0  # Metrics Reloaded: empty prediction, non-empty reference -> 0
    assert values["recall"] == 0.0
    assert values["avd"] == 100.0
    assert notes == {}


def test_reference_empty() -> None:
    pred = box((6, 6, 6), (1, 1, 1), (3, 3, 3))
    values, notes = compute_metrics(VOXEL, pred, np.zeros_like(pred), (1.0, 1.0, 1.0))
    assert values["dsc"] == 0.0
    assert values["ndsc"] == 0.0
    assert values["precision"] == 0.0
    assert math.isnan(values["recall"])
    assert notes["recall"] == "reference empty: recall undefined"
    assert values["avd"] == 100.0


def test_ignore_mask_removes_voxels_from_both_masks_and_the_volume() -> None:
    shape = (8, 8, 8)
    ref = box(shape, (0, 0, 0), (4, 4, 4))  # 64
    pred = box(shape, (0, 0, 0), (4, 4, 6))  # 96, 32 of them false positives in z 4..5
    ignore = box(shape, (0, 0, 4), (8, 8, 8))  # hides every false positive and half the volume
    values, _ = compute_metrics(VOXEL, pred, ref, (1.0, 1.0, 1.0), ignore=ignore)
    assert values["dsc"] == 1.0
    assert values["precision"] == 1.0
    assert values["vol_pred_ml"] == pytest.approx(0.064)
    # With a false positive left outside the ignore mask, nDSC counts N = the 256 evaluated voxels.
    pred[7, 7, 0] = True
    values, _ = compute_metrics(["ndsc"], pred, ref, (1.0, 1.0, 1.0), ignore=ignore)
    k = 0.999 * 64 / (0.001 * (256 - 64))
    assert values["ndsc"] == pytest.approx(2 * 64 / (k * 1 + 2 * 64))


def _shifts_dice_norm(gt: np.ndarray, seg: np.ndarray, r: float = 0.001) -> float:
    """Shifts' ``dice_norm_metric`` (mswml/metrics.py), restated."""
    gt, seg = gt.astype("float32"), seg.astype("float32")
    if np.sum(seg) + np.sum(gt) == 0:
        return 1.0
    k = 1.0 if np.sum(gt) == 0 else (1 - r) * np.sum(gt) / (r * (len(gt.flatten()) - np.sum(gt)))
    tp = np.sum(seg[gt == 1])
    fp = np.sum(seg[gt == 0])
    fn = np.sum(gt[seg == 0])
    return float(2.0 * tp / (k * fp + 2.0 * tp + fn))


@pytest.mark.parametrize("seed", range(3))
def test_ndsc_matches_shifts_and_dice_matches_sklearn(seed: int) -> None:
    from sklearn.metrics import f1_score, precision_score, recall_score

    pred, ref = random_masks(seed)
    values, _ = compute_metrics(["ndsc", "dsc", "precision", "recall"], pred, ref, (1.0, 1.0, 1.0))
    assert values["ndsc"] == pytest.approx(_shifts_dice_norm(ref, pred), rel=1e-6)
    y, p = ref.ravel(), pred.ravel()
    assert values["dsc"] == pytest.approx(f1_score(y, p))
    assert values["precision"] == pytest.approx(precision_score(y, p))
    assert values["recall"] == pytest.approx(recall_score(y, p))


def test_normalized_dice_edge_cases() -> None:
    assert normalized_dice(tp=0, fp=0, fn=0, n_ref=0, n_voxels=100) == 1.0
    assert normalized_dice(tp=0, fp=5, fn=0, n_ref=0, n_voxels=100) == 0.0
    # Reference fills the volume: no false positive is possible, nDSC = DSC.
    assert normalized_dice(tp=60, fp=0, fn=40, n_ref=100, n_voxels=100) == pytest.approx(120 / 160)
    # r = |R|/N makes k = 1: nDSC = DSC.
    assert normalized_dice(tp=3, fp=4, fn=2, n_ref=5, n_voxels=50, r=0.1) == pytest.approx(6 / 12)


def test_ndsc_r_is_configurable() -> None:
    ref = box((10, 10, 10), (0, 0, 0), (2, 5, 5))  # 50 of 1000 voxels: r = 0.05 gives k = 1
    pred = box((10, 10, 10), (1, 0, 0), (3, 5, 5))
    values, _ = compute_metrics(["ndsc", "dsc"], pred, ref, (1.0, 1.0, 1.0), config=MetricConfig(ndsc_r=0.05))
    assert values["ndsc"] == pytest.approx(values["dsc"])
