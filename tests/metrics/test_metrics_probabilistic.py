"""Probability / uncertainty metrics: auc_pr against sklearn, the nDSC retention curve against Shifts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_helpers import box, random_masks
from sklearn.metrics import auc, average_precision_score

from robusteval.metrics import average_precision, compute_metrics, ndsc_retention_curve


@pytest.mark.parametrize("seed", range(4))
def test_auc_pr_equals_sklearn(seed: int) -> None:
    pred, ref = random_masks(seed)
    rng = np.random.default_rng(seed)
    prob = np.clip(0.6 * ref + 0.5 * rng.random(ref.shape), 0, 1).astype(np.float32)
    if seed % 2:
        prob = np.round(prob, 2)  # many ties, and a block of exact zeros
        prob[:5] = 0.0
    values, notes = compute_metrics(["auc_pr"], pred, ref, (1.0, 1.0, 1.0), prob=prob)
    assert notes == {}
    assert values["auc_pr"] == pytest.approx(average_precision_score(ref.ravel(), prob.ravel()), rel=1e-9)


def test_auc_pr_excludes_ignored_voxels() -> None:
    pred, ref = random_masks(7)
    prob = np.random.default_rng(7).random(ref.shape).astype(np.float32)
    ignore = np.zeros_like(ref)
    ignore[:, :10] = True
    values, _ = compute_metrics(["auc_pr"], pred, ref, (1.0, 1.0, 1.0), prob=prob, ignore=ignore)
    keep = ~ignore
    assert values["auc_pr"] == pytest.approx(average_precision_score(ref[keep], prob[keep]), rel=1e-9)


def test_average_precision_by_hand() -> None:
    # Scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.7 (neg): thresholds 0.9 -> P 1, R 1/2; 0.7 -> P 2/4, R 1.
    y = np.array([True, False, True, False])
    s = np.array([0.9, 0.8, 0.7, 0.7])
    assert average_precision(y, s) == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)
    with pytest.raises(ValueError, match="positive"):
        average_precision(np.zeros(3, dtype=bool), np.ones(3))


def test_probabilistic_metrics_without_maps_are_nan_with_a_note() -> None:
    ref = box((6, 6, 6), (1, 1, 1), (3, 3, 3))
    values, notes = compute_metrics(["auc_pr", "ndsc_aac"], ref, ref, (1.0, 1.0, 1.0))
    assert math.isnan(values["auc_pr"])
    assert math.isnan(values["ndsc_aac"])
    assert notes == {"auc_pr": "no probability map", "ndsc_aac": "no uncertainty map"}
    prob = np.zeros(ref.shape, dtype=np.float32)
    values, notes = compute_metrics(["auc_pr"], ref, np.zeros_like(ref), (1.0, 1.0, 1.0), prob=prob)
    assert math.isnan(values["auc_pr"])
    assert notes["auc_pr"] == "reference empty: average precision undefined"


def _shifts_dice_norm(gt: np.ndarray, seg: np.ndarray, r: float = 0.001) -> float:
    gt, seg = gt.astype("float32"), seg.astype("float32")
    if np.sum(seg) + np.sum(gt) == 0:
        return 1.0
    k = 1.0 if np.sum(gt) == 0 else (1 - r) * np.sum(gt) / (r * (len(gt.flatten()) - np.sum(gt)))
    tp, fp, fn = np.sum(seg[gt == 1]), np.sum(seg[gt == 0]), np.sum(gt[seg == 0])
    return float(2.0 * tp / (k * fp + 2.0 * tp + fn))


def _shifts_ndsc_aac(gt: np.ndarray, pred: np.ndarray, unc: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Shifts mswml/metrics.py ndsc_aac_metric, restated (flattened inputs, no joblib)."""
    ordering = unc.argsort()
    gts, preds = gt[ordering].copy(), pred[ordering].copy()
    n = len(gts)
    fracs = np.log(np.arange(200 + 1)[1:])
    fracs /= np.amax(fracs)
    scores = []
    for frac in fracs:
        pos = int(n * frac)
        curr = preds if pos == n else np.concatenate((preds[:pos], gts[pos:]))
        scores.append(_shifts_dice_norm(gts, curr))
    return fracs, np.asarray(scores), 1.0 - auc(fracs, np.asarray(scores))


@pytest.mark.parametrize("seed", range(3))
def test_retention_curve_and_area_match_shifts(seed: int) -> None:
    pred, ref = random_masks(seed, shape=(12, 14, 10), density=0.2)
    rng = np.random.default_rng(seed)
    # Informative uncertainty: errors tend to be uncertain. Continuous, so no ties in the ordering.
    unc = (rng.random(ref.shape) + 0.7 * (pred != ref)).astype(np.float32)
    fracs, scores, area = _shifts_ndsc_aac(ref.ravel(), pred.ravel(), unc.ravel())
    ours_fracs, ours_scores = ndsc_retention_curve(pred, ref, unc)
    np.testing.assert_allclose(ours_fracs, fracs)
    np.testing.assert_allclose(ours_scores, scores, rtol=1e-6)
    assert ours_scores[0] == 1.0  # nothing retained: every voxel referred
    values, _ = compute_metrics(["ndsc_aac", "ndsc"], pred, ref, (1.0, 1.0, 1.0), uncertainty=unc)
    assert values["ndsc_aac"] == pytest.approx(area, rel=1e-6)
    assert ours_scores[-1] == pytest.approx(values["ndsc"])  # everything retained: the model's own nDSC


def _stable_retention_scores(gt: np.ndarray, pred: np.ndarray, unc: np.ndarray) -> np.ndarray:
    """The Shifts curve with a stable argsort: tied uncertainties keep voxel order."""
    order = np.argsort(unc, kind="stable")
    gts, preds = gt[order], pred[order]
    fracs = np.log(np.arange(1, 201)) / np.log(200)
    n = len(gts)
    return np.array([_shifts_dice_norm(gts, np.concatenate((preds[: int(n * f)], gts[int(n * f) :]))) for f in fracs])


@pytest.mark.parametrize("seed", range(2))
def test_retention_curve_with_tied_uncertainties(seed: int) -> None:
    pred, ref = random_masks(seed, shape=(12, 14, 10), density=0.2)
    rng = np.random.default_rng(seed)
    unc = np.round(rng.random(ref.shape) * (pred != ref) + 0.3 * rng.random(ref.shape), 1).astype(np.float32)
    unc[:6] = 0.0  # a large block of exact ties
    assert len(np.unique(unc)) < 20
    _, ours = ndsc_retention_curve(pred, ref, unc)
    np.testing.assert_allclose(ours, _stable_retention_scores(ref.ravel(), pred.ravel(), unc.ravel()), rtol=1e-6)


def test_retention_area_is_zero_for_a_perfect_prediction_and_grows_with_errors() -> None:
    pred, ref = random_masks(3, shape=(12, 12, 12), density=0.2)
    unc = np.random.default_rng(0).random(ref.shape).astype(np.float32)
    perfect, _ = compute_metrics(["ndsc_aac"], ref, ref, (1.0, 1.0, 1.0), uncertainty=unc)
    assert perfect["ndsc_aac"] == 0.0
    informative = (unc + (pred != ref)).astype(np.float32)
    good, _ = compute_metrics(["ndsc_aac"], pred, ref, (1.0, 1.0, 1.0), uncertainty=informative)
    blind, _ = compute_metrics(["ndsc_aac"], pred, ref, (1.0, 1.0, 1.0), uncertainty=unc)
    assert 0.0 < good["ndsc_aac"] < blind["ndsc_aac"]
