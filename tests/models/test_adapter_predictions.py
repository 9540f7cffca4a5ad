"""``predictions`` adapter: precomputed files by pattern; missing → unavailable (other cases run), another
grid → CaseError, probabilities in [0, 1], thresholding reproduces the mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_helpers import make_adapter, make_case, save_nifti

from robusteval.data.case import Case, CaseRecord
from robusteval.engine.plan import WorkItem
from robusteval.engine.work import ModelRuntime, evaluate_case
from robusteval.errors import CaseError, PredictionUnavailable
from robusteval.metrics import MetricConfig
from robusteval.models.base import ModelAdapter
from robusteval.shifts.compose import Condition

PATTERN = "preds/{condition}/{case_id}.nii.gz"
PROB_PATTERN = "probs/{condition}/{case_id}_prob.nii.gz"


def _prob_map(case: Case, seed: int = 0) -> np.ndarray:
    """A probability map: high inside the case's lesion, noise in [0, 0.6) elsewhere."""
    rng = np.random.default_rng(seed)
    prob = rng.uniform(0.0, 0.6, case.shape).astype(np.float32)
    prob[case.label] = 0.9
    return prob


def _adapter(tmp_path: Path, **params: object) -> ModelAdapter:
    return make_adapter("predictions", dict(params), base_dir=tmp_path, name="lst")


def test_mask_file_is_read_on_the_case_grid(tmp_path: Path) -> None:
    case = make_case(condition="clean")
    mask = np.zeros(case.shape, np.uint8)
    mask[8:11, 8:12, 9:12] = 1
    save_nifti(tmp_path / "preds/clean/c1.nii.gz", mask, case.affine)
    pred = _adapter(tmp_path, mask=PATTERN).predict(case)
    np.testing.assert_array_equal(pred.mask, mask > 0)
    np.testing.assert_array_equal(pred.prob, mask.astype(np.float32))  # no probability map: the mask itself


def test_probability_map_thresholding_reproduces_the_mask(tmp_path: Path) -> None:
    case = make_case(condition="bias_field-s3")
    prob = _prob_map(case)
    save_nifti(tmp_path / "probs/bias_field-s3/c1_prob.nii.gz", prob, case.affine)
    pred = _adapter(tmp_path, prob=PROB_PATTERN, threshold=0.4).predict(case)
    assert pred.prob.dtype == np.float32
    assert float(pred.prob.min()) >= 0.0
    assert float(pred.prob.max()) <= 1.0
    np.testing.assert_array_equal(pred.prob, prob)
    np.testing.assert_array_equal(pred.mask, prob >= 0.4)
    assert pred.mask.sum() == case.label.sum() + (prob[~case.label] >= 0.4).sum()


def test_mask_and_probability_map_together(tmp_path: Path) -> None:
    case = make_case(condition="clean")
    prob = _prob_map(case)
    save_nifti(tmp_path / "preds/clean/c1.nii.gz", case.label.astype(np.uint8), case.affine)
    save_nifti(tmp_path / "probs/clean/c1_prob.nii.gz", prob, case.affine)
    pred = _adapter(tmp_path, mask=PATTERN, prob=PROB_PATTERN).predict(case)
    np.testing.assert_array_equal(pred.mask, case.label)
    np.testing.assert_array_equal(pred.prob, prob)


def test_probability_outside_0_1_is_a_case_error(tmp_path: Path) -> None:
    case = make_case(condition="clean")
    save_nifti(tmp_path / "probs/clean/c1_prob.nii.gz", _prob_map(case) * 100, case.affine)
    with pytest.raises(CaseError, match=r"model lst: probability map c1_prob.nii.gz has values in \[.*outside"):
        _adapter(tmp_path, prob=PROB_PATTERN).predict(case)


def test_a_file_on_another_grid_is_a_case_error(tmp_path: Path) -> None:
    case = make_case(condition="clean")
    save_nifti(tmp_path / "preds/clean/c1.nii.gz", np.zeros((20, 22, 17), np.uint8), case.affine)
    with pytest.raises(CaseError, match=r"another grid: shape \(20, 22, 17\) != case c1's \(20, 22, 18\)"):
        _adapter(tmp_path, mask=PATTERN).predict(case)
    moved = case.affine.copy()
    moved[0, 3] += 1.0  # one millimetre off
    save_nifti(tmp_path / "preds/clean/c1.nii.gz", np.zeros(case.shape, np.uint8), moved)
    with pytest.raises(CaseError, match=r"another grid: its affine differs .* by 1 mm"):
        _adapter(tmp_path, mask=PATTERN).predict(case)


def test_missing_files_are_unavailable_for_clean_and_shifted(tmp_path: Path) -> None:
    model = _adapter(tmp_path, mask=PATTERN)
    for condition in ("clean", "blur-s2"):
        with pytest.raises(PredictionUnavailable, match=f"no prediction for case c1, condition {condition}"):
            model.predict(make_case(condition=condition))


def test_a_pattern_without_condition_serves_the_clean_condition_only(tmp_path: Path) -> None:
    case = make_case(condition="clean")
    save_nifti(tmp_path / "preds/c1.nii.gz", case.label.astype(np.uint8), case.affine)
    model = _adapter(tmp_path, mask="preds/{case_id}.nii.gz")
    np.testing.assert_array_equal(model.predict(case).mask, case.label)
    with pytest.raises(PredictionUnavailable, match=r"has no \{condition\}"):
        model.predict(make_case(condition="motion-s1"))


def test_invalid_params_name_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"params\.mask or params\.prob"):
        _adapter(tmp_path)
    with pytest.raises(ValueError, match=r"params\.mask: .* has no \{case_id\}"):
        _adapter(tmp_path, mask="preds/{condition}.nii.gz")
    with pytest.raises(ValueError, match=r"params\.prob: unknown placeholder \{subject\}"):
        _adapter(tmp_path, prob="{subject}/{case_id}.nii.gz")
    with pytest.raises(ValueError, match=r"params\.threshold"):
        _adapter(tmp_path, prob=PROB_PATTERN, threshold=1.5)
    with pytest.raises(ValueError, match="unknown params"):
        _adapter(tmp_path, mask=PATTERN, roi_size=[8, 8, 8])


def test_fingerprint_and_referenced_files_follow_the_listing(tmp_path: Path) -> None:
    case = make_case(condition="clean")
    model = _adapter(tmp_path, mask=PATTERN)
    empty = model.fingerprint()
    save_nifti(tmp_path / "preds/clean/c1.nii.gz", case.label.astype(np.uint8), case.affine)
    save_nifti(tmp_path / "preds/blur-s1/c1.nii.gz", case.label.astype(np.uint8), case.affine)
    (tmp_path / "preds/clean/notes.txt").write_text("not matched by the pattern")
    assert model.fingerprint() != empty
    files = type(model).referenced_files(model.params, tmp_path)
    assert files == [tmp_path / "preds/blur-s1/c1.nii.gz", tmp_path / "preds/clean/c1.nii.gz"]
    assert model.describe()["files"] == 2


def test_engine_records_unavailable_cases_while_others_run(tmp_path: Path) -> None:
    """Through the engine's per-case work: c1 clean and c1 blur-s1 have files; c1 blur-s2, c2 clean do not."""
    cases = {cid: make_case(cid) for cid in ("c1", "c2")}
    records = {cid: CaseRecord(cid, f"s-{cid}", "A", "x", "test", (lambda c=c: c)) for cid, c in cases.items()}
    blur = Condition.build("blur", [("blur", {}, None)])
    c1 = cases["c1"]
    pred_clean = c1.label.copy()
    pred_clean[8, 8, 8] = False  # 63 of the 64 lesion voxels
    save_nifti(tmp_path / "preds/clean/c1.nii.gz", pred_clean.astype(np.uint8), c1.affine)
    save_nifti(tmp_path / "preds/blur-s1/c1.nii.gz", c1.label.astype(np.uint8), c1.affine)
    runtime = ModelRuntime("lst", "external", _adapter(tmp_path, mask=PATTERN))
    items_c1 = [WorkItem(records["c1"], "id", "clean", 0, 0), WorkItem(records["c1"], "id", "blur", 1, 11),
                WorkItem(records["c1"], "id", "blur", 2, 12)]  # fmt: skip
    rows = evaluate_case(items_c1, {"blur": blur}, [runtime], ["dsc"], MetricConfig())
    rows += evaluate_case([WorkItem(records["c2"], "id", "clean", 0, 0)], {"blur": blur}, [runtime], ["dsc"],
                          MetricConfig())  # fmt: skip
    got = {(r["case_id"], r["shift"], r["severity"]): (r["status"], r.get("dsc")) for r in rows}
    assert got[("c1", "clean", 0)] == ("ok", pytest.approx(2 * 63 / (63 + 64)))
    assert got[("c1", "blur", 1)] == ("ok", pytest.approx(1.0))
    assert got[("c1", "blur", 2)][0] == "unavailable"
    assert got[("c2", "clean", 0)][0] == "unavailable"
    errors = {(r["case_id"], r["severity"]): r["error"] for r in rows if r["status"] == "unavailable"}
    assert "condition blur-s2" in errors[("c1", 2)]
    assert "preds/clean/c2.nii.gz" in errors[("c2", 0)]


def test_check_files_names_the_pattern_that_matches_nothing_and_its_folder(tmp_path: Path) -> None:
    """Each pattern must match a file (an absolute one is searched where it says); with the run's work items,
    at least one item must have all its files. Building the adapter checks none of this (``export`` needs it)."""
    case = make_case(condition="clean")
    save_nifti(tmp_path / "probs/clean/c1_prob.nii.gz", _prob_map(case), case.affine)
    params = {"mask": PATTERN, "prob": PROB_PATTERN}
    _adapter(tmp_path, **params)  # no file for params.mask: still builds
    cls = type(_adapter(tmp_path, **params))
    with pytest.raises(ValueError, match=rf"params\.mask: pattern .* matches no file \(searched {tmp_path}/preds, wh"):
        cls.check_files(params, tmp_path)
    absolute = {"mask": str(tmp_path / "elsewhere/{case_id}.nii.gz")}
    with pytest.raises(ValueError, match=rf"searched {tmp_path}/elsewhere, which does not exist\): every row"):
        cls.check_files(absolute, None)
    save_nifti(tmp_path / "preds/clean/c9.nii.gz", case.label.astype(np.uint8), case.affine)  # not a planned case
    cls.check_files(params, tmp_path)  # every pattern matches a file
    target = {"case_id": "c1", "condition": "clean", "subject_id": "s", "site": "A", "scanner": "x"}
    with pytest.raises(ValueError, match=r"params\.mask: .* names no file for any of the run's 2 work items"):
        cls.check_files(params, tmp_path, [target, {**target, "condition": "blur-s1"}])
    save_nifti(tmp_path / "preds/clean/c1.nii.gz", case.label.astype(np.uint8), case.affine)
    cls.check_files(params, tmp_path, [target, {**target, "condition": "blur-s1"}])  # c1 clean has both files
