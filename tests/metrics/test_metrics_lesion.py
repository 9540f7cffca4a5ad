"""Lesion-wise metrics: the WMH-2017 and Shifts conventions on cases where they differ, sizes, empties."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from metrics_helpers import box, random_masks
from scipy import ndimage

from robusteval.metrics import MetricConfig, compute_metrics

LESION = ["lesion_recall", "lesion_precision", "lesion_f1"]
BINS = ["lesion_recall_small", "lesion_recall_medium", "lesion_recall_large"]
WMH = MetricConfig()
SHIFTS = MetricConfig(lesion_convention="shifts")


def lesions(pred, ref, config, names=LESION, **kw):  # type: ignore[no-untyped-def]
    return compute_metrics(names, pred, ref, (1.0, 1.0, 1.0), config=config, **kw)


def test_one_voxel_overlap_detects_under_wmh_but_not_under_shifts() -> None:
    shape = (20, 20, 20)
    ref = box(shape, (2, 2, 2), (5, 5, 5)) | box(shape, (10, 10, 10), (12, 12, 12))  # A (27), B (8)
    ref[16, 16, 16] = True  # C, missed
    pred = box(shape, (4, 4, 4), (7, 7, 7))  # touches A at one voxel: IoU 1/53
    pred |= box(shape, (10, 10, 10), (12, 12, 12))  # B exactly
    pred[16, 2, 2] = True  # false positive
    wmh, _ = lesions(pred, ref, WMH)
    assert wmh == pytest.approx({"lesion_recall": 2 / 3, "lesion_precision": 2 / 3, "lesion_f1": 2 / 3})
    shifts, _ = lesions(pred, ref, SHIFTS)
    # Only B matches: TP 1, FP 2 (A's partner and the false positive), FN 2 -> F1 = 2/(2+2+2).
    assert shifts == pytest.approx({"lesion_recall": 1 / 3, "lesion_precision": 1 / 3, "lesion_f1": 1 / 3})


def test_corner_neighbours_are_one_lesion_under_26_and_two_under_6_connectivity() -> None:
    ref = np.zeros((10, 10, 10), dtype=bool)
    ref[5, 5, 5] = ref[6, 6, 6] = True
    pred = np.zeros_like(ref)
    pred[5, 5, 5] = True
    assert lesions(pred, ref, WMH)[0]["lesion_recall"] == 1.0
    assert lesions(pred, ref, SHIFTS)[0]["lesion_recall"] == 0.5
    # The override: Shifts matching on 26-connected lesions -> one lesion of 2 voxels, IoU 1/2 >= 0.25.
    assert (
        lesions(pred, ref, MetricConfig(lesion_convention="shifts", lesion_connectivity=26))[0]["lesion_recall"] == 1.0
    )
    # And the IoU threshold override on the WMH components: 1/2 < 0.6.
    assert lesions(pred, ref, MetricConfig(lesion_iou_threshold=0.6))[0]["lesion_recall"] == 0.0


def test_f1_formulas_differ_when_one_prediction_matches_two_lesions() -> None:
    ref = np.zeros((20, 20, 20), dtype=bool)
    ref[5, 5, 5:7] = True  # g1
    ref[5, 5, 8:10] = True  # g2, separate from g1 (gap at z = 7)
    ref[15, 15, 15:17] = True  # g3, missed
    pred = np.zeros_like(ref)
    pred[5, 5, 5:10] = True  # one component over g1 and g2: IoU 2/5 with each
    wmh, _ = lesions(pred, ref, WMH)
    assert wmh == pytest.approx({"lesion_recall": 2 / 3, "lesion_precision": 1.0, "lesion_f1": 0.8})  # 2PR/(P+R)
    shifts, _ = lesions(pred, ref, SHIFTS)
    assert shifts == pytest.approx({"lesion_recall": 2 / 3, "lesion_precision": 1.0, "lesion_f1": 2 / 3})
    assert shifts["lesion_f1"] == pytest.approx(_shifts_lesion_f1(ref, pred))


def test_empty_cases() -> None:
    empty = np.zeros((8, 8, 8), dtype=bool)
    lesion = box((8, 8, 8), (2, 2, 2), (4, 4, 4))
    for config in (WMH, SHIFTS):
        both, notes = lesions(empty, empty, config, names=LESION + BINS)
        assert [both[n] for n in LESION] == [1.0, 1.0, 1.0]
        assert all(math.isnan(both[n]) for n in BINS)
        assert set(notes) == set(BINS)
        assert notes["lesion_recall_small"] == "no reference lesion of 0 to 0.01 mL"
        ref_empty, _ = lesions(lesion, empty, config)
        assert ref_empty == {"lesion_recall": 1.0, "lesion_precision": 0.0, "lesion_f1": 0.0}
        pred_empty, _ = lesions(empty, lesion, config)
        assert pred_empty == {"lesion_recall": 0.0, "lesion_precision": 1.0, "lesion_f1": 0.0}


def test_minimum_lesion_size_drops_small_components_of_both_masks() -> None:
    shape = (16, 16, 16)
    ref = box(shape, (2, 2, 2), (5, 5, 5))  # 27 voxels, detected
    ref[12, 12, 12] = True  # 1 voxel, missed
    pred = box(shape, (2, 2, 2), (5, 5, 5))
    pred[12, 2, 2] = True  # 1-voxel false positive
    base, _ = lesions(pred, ref, WMH)
    assert base == pytest.approx({"lesion_recall": 0.5, "lesion_precision": 0.5, "lesion_f1": 0.5})
    filtered, _ = lesions(pred, ref, MetricConfig(lesion_min_volume_ml=0.002))  # 2 mm³
    assert filtered == {"lesion_recall": 1.0, "lesion_precision": 1.0, "lesion_f1": 1.0}


def test_size_stratified_recall() -> None:
    # Default edges 0.01 and 0.1 mL = 10 and 100 voxels of 1 mm³.
    shape = (40, 40, 40)
    ref = np.zeros(shape, dtype=bool)
    pred = np.zeros(shape, dtype=bool)
    small_hit = box(shape, (2, 2, 2), (4, 4, 4))  # 8 voxels
    small_miss = box(shape, (2, 10, 2), (3, 11, 3))  # 1 voxel
    medium_edge = box(shape, (10, 2, 2), (11, 3, 12))  # exactly 10 voxels = 0.01 mL: medium
    medium_hit = box(shape, (10, 10, 10), (13, 13, 13))  # 27 voxels
    large_miss = box(shape, (20, 20, 20), (25, 25, 25))  # 125 voxels
    for m in (small_hit, small_miss, medium_edge, medium_hit, large_miss):
        ref |= m
    pred |= small_hit | medium_hit
    values, notes = lesions(pred, ref, WMH, names=BINS)
    assert values == {"lesion_recall_small": 0.5, "lesion_recall_medium": 0.5, "lesion_recall_large": 0.0}
    assert notes == {}
    # Custom edges in mL, and a bin without reference lesions -> NaN with a note.
    values, notes = lesions(pred, ref, MetricConfig(lesion_size_edges_ml=(0.009, 0.2)), names=BINS)
    assert values["lesion_recall_small"] == 0.5
    assert values["lesion_recall_medium"] == pytest.approx(1 / 3)  # 10 (missed), 27 (hit), 125 (missed)
    assert math.isnan(values["lesion_recall_large"])
    assert notes == {"lesion_recall_large": "no reference lesion of 0.2 to inf mL"}


def test_ignored_false_positive_is_not_a_lesion() -> None:
    ref = box((12, 12, 12), (2, 2, 2), (4, 4, 4))
    pred = ref.copy()
    pred[9, 9, 9] = True
    ignore = box((12, 12, 12), (8, 8, 8), (12, 12, 12))
    assert lesions(pred, ref, WMH)[0]["lesion_precision"] == 0.5
    assert lesions(pred, ref, WMH, ignore=ignore)[0]["lesion_precision"] == 1.0


def test_invalid_lesion_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="lesion_convention"):
        MetricConfig(lesion_convention="brats")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lesion_connectivity"):
        MetricConfig(lesion_connectivity=8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lesion_size_edges_ml"):
        MetricConfig(lesion_size_edges_ml=(0.1, 0.01))


# --- the challenges' own algorithms, restated with scipy ------------------------------------------------


def _wmh2017_detection(ref: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """MICCAI 2017 WMH evaluation.py getLesionDetection (fully connected components, any overlap)."""
    full = np.ones((3, 3, 3))
    cc_test, n_wmh = ndimage.label(ref, structure=full)
    recall = 1.0 if n_wmh == 0 else (len(np.unique(cc_test * pred)) - 1) / n_wmh
    cc_result, n_det = ndimage.label(pred, structure=full)
    precision = 1.0 if n_det == 0 else (len(np.unique(cc_result * ref)) - 1) / n_det
    f1 = 0.0 if precision + recall == 0 else 2.0 * precision * recall / (precision + recall)
    return recall, precision, f1


def _shifts_lesion_f1(gt: np.ndarray, pred: np.ndarray, iou_threshold: float = 0.25) -> float:
    """Shifts mswml/metrics.py lesion_f1_score, restated without joblib."""

    def iou(m1: np.ndarray, m2: np.ndarray) -> float:
        return float(np.sum(m1 * m2) / np.sum(m1 + m2 - m1 * m2))

    multi_pred, _ = ndimage.label(pred)
    multi_gt, _ = ndimage.label(gt)
    outcome = []
    for label_pred in np.unique(multi_pred):
        if label_pred == 0:
            continue
        m_pred = (multi_pred == label_pred).astype(int)
        ious = [0.0] + [iou(m_pred, (multi_gt == g).astype(int)) for g in np.unique(multi_gt * m_pred) if g != 0]
        outcome.append("tp" if max(ious) >= iou_threshold else "fp")
    counts = Counter(outcome)
    fn = 0
    for label_gt in np.unique(multi_gt):
        if label_gt == 0:
            continue
        m_gt = (multi_gt == label_gt).astype(int)
        ious = [0.0] + [iou((multi_pred == p).astype(int), m_gt) for p in np.unique(multi_pred * m_gt) if p != 0]
        fn += int(max(ious) < iou_threshold)
    tp, fp = counts["tp"], counts["fp"]
    return 1.0 if tp + 0.5 * (fp + fn) == 0 else tp / (tp + 0.5 * (fp + fn))


def lesion_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, reference): the reference's lesions, 70% kept, shifted by one voxel (some IoUs below
    0.25, most above), every other seed dilated, plus false-positive blobs."""
    rng = np.random.default_rng(seed)
    _, ref = random_masks(seed, density=0.05)
    labels, n = ndimage.label(ref)
    kept = rng.random(n + 1) < 0.7
    kept[0] = False
    pred = np.roll(kept[labels], 1, axis=seed % 3)
    if seed % 2:
        pred = ndimage.binary_dilation(pred)
    return pred | random_masks(seed + 100, density=0.01)[1], ref


@pytest.mark.parametrize("seed", range(4))
def test_wmh_convention_matches_the_challenge_code(seed: int) -> None:
    pred, ref = lesion_pair(seed)
    values, _ = lesions(pred, ref, WMH)
    recall, precision, f1 = _wmh2017_detection(ref, pred)
    assert values == pytest.approx({"lesion_recall": recall, "lesion_precision": precision, "lesion_f1": f1})


@pytest.mark.parametrize("seed", range(4))
def test_shifts_convention_matches_the_challenge_code(seed: int) -> None:
    pred, ref = lesion_pair(seed)
    values, _ = lesions(pred, ref, SHIFTS)
    assert values["lesion_f1"] == pytest.approx(_shifts_lesion_f1(ref, pred))
