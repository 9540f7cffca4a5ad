"""The ``wmh2017`` metric convention: the WMH 2017 challenge's evaluation (Kuijf et al. 2019, ``evaluation.py``).

Each case is small enough to work by hand; the comments show the arithmetic. The last tests restate the
challenge's procedure with SimpleITK (its erosion and connected components) and compare on random masks.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import get_args, get_type_hints

import nibabel as nib
import numpy as np
import pytest
from metrics_helpers import box, random_masks

from robusteval.commands import metrics as metrics_command
from robusteval.metrics import METRIC_CONVENTIONS, MetricConfig, compute_metrics
from robusteval.protocol import MetricsSpec

CHALLENGE = ["dsc", "hd95", "avd", "lesion_recall", "lesion_f1"]
WMH = MetricConfig(convention="wmh2017")
DEFAULT = MetricConfig()


def _values(pred: np.ndarray, ref: np.ndarray, config: MetricConfig, spacing=(1.0, 1.0, 1.0), **kw):  # type: ignore[no-untyped-def]
    return compute_metrics(CHALLENGE, pred, ref, spacing, config=config, **kw)


# --- the boundary: a 3x3 in-plane erosion, slice by slice -----------------------------------------------


def test_a_hole_is_boundary_in_plane_only() -> None:
    # One slice: the reference is a 5x5 square; the prediction is the same square with its centre voxel
    # missing. Spacing 0.9 x 0.9 x 3 mm.
    shape = (7, 7, 3)
    ref = box(shape, (1, 1, 1), (6, 6, 2))
    pred = ref.copy()
    pred[3, 3, 1] = False
    spacing = (0.9, 0.9, 3.0)
    # Default (3D cross erosion; beyond the slice is background): every voxel of a one-slice mask is boundary.
    # pred -> ref: 24 distances of 0. ref -> pred: 24 zeros and the hole, 0.9 mm from its neighbours.
    # 95th percentile of [0 x 24, 0.9]: rank 0.95 * 24 = 22.8 falls between two zeros -> 0. HD95 = 0.
    default, _ = compute_metrics(["hd95"], pred, ref, spacing, config=DEFAULT)
    assert default["hd95"] == 0.0
    # wmh2017 (3x3 in-plane erosion): the reference boundary is its outer ring of 16 voxels; the prediction's
    # is that ring plus the 8 voxels around the hole (the diagonal ones too: the square reaches corners).
    # pred -> ref: ring 16 x 0, inner 8 x 0.9 mm (each has a ring voxel beside it).
    # 95th percentile of [0 x 16, 0.9 x 8]: rank 0.95 * 23 = 21.85, between two 0.9s -> 0.9.
    # ref -> pred: the ring is in the prediction's boundary -> all 0. HD95 = max(0.9, 0) = 0.9 mm.
    wmh, _ = compute_metrics(["hd95"], pred, ref, spacing, config=WMH)
    assert wmh["hd95"] == pytest.approx(0.9)


def test_the_volume_edge_makes_no_boundary_in_plane() -> None:
    # One slice of 5 x 5 voxels (1 mm). The reference fills rows 0..3 (reaching the volume edge at row 0),
    # the prediction rows 2..3.
    shape = (5, 5, 1)
    ref = box(shape, (0, 0, 0), (4, 5, 1))
    pred = box(shape, (2, 0, 0), (4, 5, 1))
    # Default: beyond the volume is background, so every voxel of both is boundary.
    # pred -> ref: 10 x 0. ref -> pred: rows 2, 3: 10 x 0; row 1: 5 x 1; row 0: 5 x 2.
    # 95th percentile of [0 x 10, 1 x 5, 2 x 5]: rank 0.95 * 19 = 18.05, between two 2s -> 2 mm.
    default, _ = compute_metrics(["hd95"], pred, ref, (1.0, 1.0, 1.0), config=DEFAULT)
    assert default["hd95"] == 2.0
    # wmh2017: beyond the volume is foreground. Only row 3 of the reference has a background neighbour
    # (row 4): its boundary is row 3. The prediction's is rows 2 (row 1 is background) and 3.
    # pred -> ref: row 3: 5 x 0, row 2: 5 x 1 -> 95th percentile of [0 x 5, 1 x 5] = 1 (rank 8.55).
    # ref -> pred: row 3 lies on the prediction's boundary -> 0. HD95 = 1 mm.
    wmh, _ = compute_metrics(["hd95"], pred, ref, (1.0, 1.0, 1.0), config=WMH)
    assert wmh["hd95"] == 1.0


def test_the_erosion_stays_within_each_slice() -> None:
    # A 3x3x3 cube: the 3D erosion leaves only its centre, so 26 voxels are boundary; the in-plane erosion
    # leaves the centre of every slice, so 24 are (the centres of the top and bottom slices are interior).
    # The prediction is the middle slice alone. Spacing 1 x 1 x 3 mm.
    shape = (5, 5, 5)
    ref = box(shape, (1, 1, 1), (4, 4, 4))
    pred = box(shape, (1, 1, 2), (4, 4, 3))
    spacing = (1.0, 1.0, 3.0)
    # Default: the prediction's 9 voxels are all boundary. pred -> ref: the ring is on the cube's boundary
    # (8 x 0); the centre (2, 2, 2) is 1 mm from (1, 2, 2). 95th percentile of [0 x 8, 1]: rank 7.6 -> 0.6.
    # ref -> pred: the middle ring 8 x 0; the top and bottom slices, 18 voxels, 3 mm above/below -> 3.
    default, _ = compute_metrics(["hd95"], pred, ref, spacing, config=DEFAULT)
    assert default["hd95"] == pytest.approx(3.0)
    # wmh2017: pred -> ref: the prediction's ring (8) lies on the cube's -> 95th percentile 0.
    # ref -> pred: the middle ring 8 x 0, the top and bottom rings 16 x 3 mm -> 3 (rank 22.8 among 24).
    wmh, _ = compute_metrics(["hd95"], pred, ref, spacing, config=WMH)
    assert wmh["hd95"] == pytest.approx(3.0)
    # The mean distances tell the boundaries apart (the surface metrics share the convention's boundary):
    # masd default: 0.5 * (1/9 + 18*3/26) = 0.5 * (0.1111 + 2.0769); wmh2017: 0.5 * (0 + 16*3/24) = 1.
    masd_default = compute_metrics(["masd"], pred, ref, spacing, config=DEFAULT)[0]["masd"]
    masd_wmh = compute_metrics(["masd"], pred, ref, spacing, config=WMH)[0]["masd"]
    assert masd_default == pytest.approx(0.5 * (1 / 9 + 54 / 26))
    assert masd_wmh == pytest.approx(1.0)


# --- empty masks ---------------------------------------------------------------------------------------


def test_empty_masks() -> None:
    empty = np.zeros((6, 6, 6), dtype=bool)
    cube = box((6, 6, 6), (2, 2, 2), (4, 4, 4))  # 8 voxels
    # Both empty: the challenge's Dice is 1 - dice(0, 0) = 1 - 0/0 = NaN; HD95 is NaN whenever nothing is
    # predicted; AVD divides by the reference volume 0; recall and precision are 1 without lesions -> F1 1.
    both, notes = _values(empty, empty, WMH)
    assert all(math.isnan(both[m]) for m in ("dsc", "hd95", "avd"))
    assert (both["lesion_recall"], both["lesion_f1"]) == (1.0, 1.0)
    assert notes == {
        "dsc": "both masks empty: Dice is 0/0 (wmh2017)",
        "hd95": "prediction empty (wmh2017: NaN even when the reference is empty too)",
        "avd": "reference empty: AVD divides by the reference volume (wmh2017)",
    }
    # The default convention: Dice 1, HD95 0, AVD 0 (Metrics Reloaded).
    assert _values(empty, empty, DEFAULT)[0] == {
        "dsc": 1.0,
        "hd95": 0.0,
        "avd": 0.0,
        "lesion_recall": 1.0,
        "lesion_f1": 1.0,
    }
    # Prediction empty: Dice 2*0/(0+8) = 0; HD95 NaN; AVD |8-0|/8 = 100 %; recall 0/1 = 0, precision 1 -> F1 0.
    pred_empty, notes = _values(empty, cube, WMH)
    assert math.isnan(pred_empty["hd95"])
    assert {k: v for k, v in pred_empty.items() if k != "hd95"} == {
        "dsc": 0.0,
        "avd": 100.0,
        "lesion_recall": 0.0,
        "lesion_f1": 0.0,
    }
    assert notes == {"hd95": "prediction empty"}
    # Reference empty: AVD is NaN (the default says 100); recall 1, precision 0/1 -> F1 0.
    ref_empty, notes = _values(cube, empty, WMH)
    assert math.isnan(ref_empty["avd"])
    assert math.isnan(ref_empty["hd95"])
    assert (ref_empty["dsc"], ref_empty["lesion_recall"], ref_empty["lesion_f1"]) == (0.0, 1.0, 0.0)
    assert notes["avd"] == "reference empty: AVD divides by the reference volume (wmh2017)"
    assert _values(cube, empty, DEFAULT)[0]["avd"] == 100.0


# --- volumes and lesions -------------------------------------------------------------------------------


def test_avd_and_dsc() -> None:
    shape = (10, 10, 10)
    ref = box(shape, (2, 2, 2), (4, 4, 4))  # 8 voxels
    pred = box(shape, (2, 2, 2), (4, 4, 5))  # 12 voxels, 8 of them in the reference
    values, _ = _values(pred, ref, WMH, spacing=(1.0, 1.0, 3.0))
    assert values["dsc"] == pytest.approx(2 * 8 / (8 + 12))  # 0.8
    assert values["avd"] == pytest.approx(abs(8 - 12) / 8 * 100)  # 50 %, whatever the voxel size


def test_lesions_are_26_connected_and_detected_by_any_overlap() -> None:
    shape = (12, 12, 12)
    ref = np.zeros(shape, dtype=bool)
    ref[2, 2, 2] = ref[3, 3, 3] = True  # L1: two voxels that share only a corner -> one lesion (26-connected)
    ref[8, 2, 2] = True  # L2
    ref[2, 8, 8] = True  # L3
    pred = np.zeros(shape, dtype=bool)
    pred[3, 3, 3] = True  # P1: one voxel of L1 -> L1 detected
    pred[9, 9, 9] = pred[10, 10, 10] = True  # P2: corner-sharing pair -> one false positive component
    # recall = 1 detected / 3 lesions; precision = 1 overlapping / 2 components;
    # F1 = 2 * (1/3) * (1/2) / (1/3 + 1/2) = (1/3) / (5/6) = 0.4.
    values, _ = _values(pred, ref, WMH)
    assert values["lesion_recall"] == pytest.approx(1 / 3)
    assert values["lesion_f1"] == pytest.approx(0.4)
    # With 6-connectivity (not the challenge's) L1 and P2 would each split in two: recall 1/4, precision 1/3.
    six = compute_metrics(["lesion_recall", "lesion_precision"], pred, ref, (1.0,) * 3,
                          config=MetricConfig(lesion_connectivity=6))[0]  # fmt: skip
    assert six == pytest.approx({"lesion_recall": 1 / 4, "lesion_precision": 1 / 3})


def test_excluded_voxels_leave_both_masks() -> None:
    # Label 2 ("other pathology") is excluded from the prediction and is not WMH in the reference.
    shape = (12, 12, 12)
    wmh = box(shape, (2, 2, 2), (4, 4, 4))  # A: 8 voxels of label 1
    other = box(shape, (7, 7, 7), (9, 9, 9))  # B: 8 voxels of label 2
    pred = wmh | box(shape, (7, 7, 7), (9, 9, 8))  # A, plus half of B (4 voxels)
    pred[2, 8, 3] = True  # C: a 1-voxel false positive, 5 voxels along axis 1 from A's voxel (2, 3, 3)
    # Without B, the prediction is A + C (9 voxels): DSC 2*8/(8+9) = 16/17; AVD |8-9|/8 = 12.5 %;
    # recall 1/1; precision 1/2 (A overlaps, C does not) -> F1 = 2 * 1 * 0.5 / 1.5 = 2/3; HD95 from C:
    # the boundaries of A coincide (distance 0), C is 5 mm from the reference; pred -> ref is [0 x 8, 5]:
    # rank 0.95 * 8 = 7.6 -> 0.6 * 5 = 3 mm.
    values, _ = _values(pred, wmh, WMH, ignore=other)
    assert values == pytest.approx({"dsc": 16 / 17, "hd95": 3.0, "avd": 12.5, "lesion_recall": 1.0, "lesion_f1": 2 / 3})


# --- settings and entry points ---------------------------------------------------------------------------


def test_settings_that_contradict_the_convention_are_refused() -> None:
    with pytest.raises(ValueError, match="convention wmh2017 needs surface 'voxel', got 'surfel'"):
        MetricConfig(convention="wmh2017", surface="surfel")
    with pytest.raises(ValueError, match="needs lesion_convention 'wmh2017'"):
        MetricConfig(convention="wmh2017", lesion_convention="shifts")
    with pytest.raises(ValueError, match=r"needs lesion_min_volume_ml 0\.0"):
        MetricConfig(convention="wmh2017", lesion_min_volume_ml=0.01)
    with pytest.raises(ValueError, match="convention must be one of default, wmh2017"):
        MetricConfig(convention="brats")  # type: ignore[arg-type]
    assert MetricConfig(convention="wmh2017", lesion_connectivity=26).lesions.connectivity == 26
    spec = MetricsSpec(panel=["dsc"], convention="wmh2017")
    assert MetricConfig(**spec.config_fields()).convention == "wmh2017"
    assert spec.model_dump(mode="json")["convention"] == "wmh2017"  # as summary.json records protocol.metrics
    # Every place that names the conventions names the same ones.
    assert get_args(MetricsSpec.model_fields["convention"].annotation) == tuple(METRIC_CONVENTIONS)
    assert get_args(get_type_hints(MetricConfig)["convention"]) == tuple(METRIC_CONVENTIONS)
    with pytest.raises(ValueError, match="needs surface 'voxel'"):
        MetricsSpec(panel=["dsc"], convention="wmh2017", surface="surfel")


def _save(path: Path, data: np.ndarray, spacing: tuple[float, float, float]) -> str:
    nib.save(nib.Nifti1Image(data, np.diag([*spacing, 1.0])), str(path))
    return str(path)


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="robusteval")
    metrics_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_cli_reads_the_label_files_as_the_challenge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shape = (12, 12, 12)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[2:4, 2:4, 2:4] = 1  # A: 8 voxels of WMH
    labels[7:9, 7:9, 7:9] = 2  # B: other pathology
    pred = np.zeros(shape, dtype=np.uint8)
    pred[2:4, 2:4, 2:4] = 1  # A
    pred[7:9, 7:9, 7] = 1  # half of B (4 voxels)
    pred[2, 8, 3] = 1  # C
    ref_path = _save(tmp_path / "wmh.nii.gz", labels, (1.0, 1.0, 1.0))
    pred_path = _save(tmp_path / "result.nii.gz", pred, (1.0, 1.0, 1.0))
    assert tuple(METRIC_CONVENTIONS) == metrics_command.CONVENTIONS
    argv = ["metrics", pred_path, ref_path, "--metrics", ",".join(CHALLENGE), "--json"]
    assert _cli([*argv, "--convention", "wmh2017"]) == 0
    # As test_excluded_voxels_leave_both_masks: B leaves both masks.
    out = json.loads(capsys.readouterr().out)
    assert out == pytest.approx({"dsc": 16 / 17, "hd95": 3.0, "avd": 12.5, "lesion_recall": 1.0, "lesion_f1": 2 / 3})
    # The default reads every value above 0.5 as foreground: B is WMH (16 reference voxels, two lesions),
    # the prediction has 13. DSC 2*12/(16+13) = 24/29; AVD |16-13|/16 = 18.75 %; recall 2/2.
    assert _cli(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["dsc"], out["avd"], out["lesion_recall"]) == pytest.approx((24 / 29, 18.75, 1.0))
    # A float prediction: values 0.5 to 1000 are foreground in the challenge (0.5 itself included).
    soft = np.where(pred > 0, 0.5, 0.4).astype(np.float32)
    soft_path = _save(tmp_path / "soft.nii.gz", soft, (1.0, 1.0, 1.0))
    assert _cli(["metrics", soft_path, ref_path, "--metrics", "dsc", "--json", "--convention", "wmh2017"]) == 0
    assert json.loads(capsys.readouterr().out)["dsc"] == pytest.approx(16 / 17)


def test_cli_table_names_the_convention(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = box((6, 6, 6), (1, 1, 1), (3, 3, 3)).astype(np.uint8)
    path = _save(tmp_path / "ref.nii.gz", ref, (1.0, 1.0, 1.0))
    assert _cli(["metrics", path, path, "--metrics", "dsc", "--convention", "wmh2017"]) == 0
    assert "convention wmh2017" in capsys.readouterr().out


# --- the challenge's procedure restated with SimpleITK ---------------------------------------------------


def _challenge(pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, float, float]) -> dict[str, float]:
    """DSC, HD95, AVD, lesion recall and F1 as ``evaluation.py`` defines them, restated with SimpleITK's
    erosion (radius (1, 1, 0)) and fully connected components. Arrays are (i, j, k) as nibabel loads them;
    SimpleITK's arrays are (k, j, i)."""
    sitk = pytest.importorskip("SimpleITK")
    from scipy.spatial import cKDTree

    def image(a: np.ndarray):  # type: ignore[no-untyped-def]
        img = sitk.GetImageFromArray(np.ascontiguousarray(a.transpose(2, 1, 0)).astype(np.uint8))
        img.SetSpacing(spacing)
        return img

    def boundary_mm(img) -> np.ndarray:  # type: ignore[no-untyped-def]
        edge = sitk.GetArrayFromImage(sitk.Subtract(img, sitk.BinaryErode(img, (1, 1, 0))))
        return np.argwhere(edge)[:, ::-1] * np.asarray(spacing)  # (k, j, i) -> (i, j, k), in mm

    def n_labels_hit(labels: np.ndarray, other: np.ndarray) -> int:
        return len(set(np.unique(labels[other > 0]).tolist()) - {0})

    p_img, r_img = image(pred), image(ref)
    bp, br = boundary_mm(p_img), boundary_mm(r_img)
    hd95 = max(np.percentile(cKDTree(br).query(bp)[0], 95), np.percentile(cKDTree(bp).query(br)[0], 95))
    components = sitk.ConnectedComponentImageFilter()
    components.SetFullyConnected(True)
    cr = sitk.GetArrayFromImage(components.Execute(r_img))
    cp = sitk.GetArrayFromImage(components.Execute(p_img))
    p_arr, r_arr = sitk.GetArrayFromImage(p_img), sitk.GetArrayFromImage(r_img)
    recall = n_labels_hit(cr, p_arr) / cr.max() if cr.max() else 1.0
    precision = n_labels_hit(cp, r_arr) / cp.max() if cp.max() else 1.0
    return {
        "dsc": 2 * np.sum(pred & ref) / (pred.sum() + ref.sum()),
        "hd95": float(hd95),
        "avd": abs(int(ref.sum()) - int(pred.sum())) / ref.sum() * 100,
        "lesion_recall": recall,
        "lesion_f1": 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision),
    }


@pytest.mark.parametrize("seed", range(6))
def test_equals_the_challenge_procedure_on_random_masks(seed: int) -> None:
    shape, spacing, density = [
        ((28, 32, 24), (1.0, 1.0, 3.0), 0.1),
        ((16, 20, 12), (0.9, 1.2, 2.5), 0.3),  # dense blobs that reach the volume edge
        ((40, 30, 10), (1.0, 1.0, 1.0), 0.05),
    ][seed % 3]
    pred, ref = random_masks(seed, shape=shape, density=density)
    ours, _ = compute_metrics(CHALLENGE, pred, ref, spacing, config=WMH)
    assert ours == pytest.approx(_challenge(pred, ref, spacing), rel=1e-6)


def test_equals_the_challenge_procedure_on_masks_filling_the_volume() -> None:
    rng = np.random.default_rng(5)
    for _ in range(10):
        ref, pred = rng.random((6, 7, 5)) < 0.6, rng.random((6, 7, 5)) < 0.6
        ours, _ = compute_metrics(CHALLENGE, pred, ref, (1.0, 1.3, 2.0), config=WMH)
        assert ours == pytest.approx(_challenge(pred, ref, (1.0, 1.3, 2.0)), rel=1e-6)
