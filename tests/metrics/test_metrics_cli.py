"""The ``metrics`` CLI command: table and JSON output, NIfTI spacing, grid mismatches."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from metrics_helpers import box

from robusteval.commands import metrics as metrics_command
from robusteval.metrics import PANEL, compute_metrics

AFFINE = np.diag([1.0, 1.5, 2.0, 1.0])


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="robusteval")
    metrics_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def _save(path: Path, data: np.ndarray, affine: np.ndarray = AFFINE) -> str:
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return str(path)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[str, str, np.ndarray, np.ndarray]:
    ref = box((12, 12, 10), (2, 2, 2), (6, 6, 5))
    pred = box((12, 12, 10), (3, 2, 2), (7, 6, 6))
    return (
        _save(tmp_path / "pred.nii.gz", pred.astype(np.uint8)),
        _save(tmp_path / "ref.nii.gz", ref.astype(np.uint8)),
        pred,
        ref,
    )


def test_json_output_uses_the_header_spacing_and_null_for_nan(
    pair: tuple[str, str, np.ndarray, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    pred_path, ref_path, pred, ref = pair
    assert _run(["metrics", pred_path, ref_path, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == list(PANEL)
    expected, _ = compute_metrics(list(PANEL), pred, ref, (1.0, 1.5, 2.0))
    for name, value in expected.items():
        if math.isnan(value):
            assert out[name] is None
        else:
            assert out[name] == pytest.approx(value)
    assert out["vol_ref_ml"] == pytest.approx(48 * 3.0 / 1000)  # 4x4x3 voxels of 1 x 1.5 x 2 mm
    assert out["auc_pr"] is None  # no --prob


def test_table_output_with_prob_and_ignore(
    pair: tuple[str, str, np.ndarray, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pred_path, ref_path, pred, ref = pair
    prob = np.where(pred, 0.8, 0.1).astype(np.float32)
    ignore = np.zeros(ref.shape, dtype=np.uint8)
    ignore[:, :, 5:] = 1  # hides the prediction's extra slice
    argv = ["metrics", pred_path, ref_path, "--prob", _save(tmp_path / "p.nii.gz", prob)]
    argv += ["--ignore", _save(tmp_path / "i.nii.gz", ignore), "--metrics", "dsc,auc_pr,ndsc_aac"]
    assert _run(argv) == 0
    out = capsys.readouterr().out
    expected_dsc = 2 * 36 / (48 + 48)  # inside z < 5: ref 4x4x3, pred 4x4x3 shifted by 1 on axis 0
    assert f"{expected_dsc:.4f}" in out
    assert "no uncertainty map" in out
    assert "auc_pr" in out
    assert "hd95" not in out


def test_shape_mismatch_exits_2_with_a_message(
    pair: tuple[str, str, np.ndarray, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pred_path, _, _, _ = pair
    other = _save(tmp_path / "other.nii.gz", np.zeros((12, 12, 11), dtype=np.uint8))
    assert _run(["metrics", pred_path, other]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "shape (12, 12, 10)" in captured.err
    assert "(12, 12, 11)" in captured.err


def test_affine_mismatch_exits_2(
    pair: tuple[str, str, np.ndarray, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, ref_path, pred, _ = pair
    moved = AFFINE.copy()
    moved[0, 3] = 0.5
    shifted = _save(tmp_path / "shifted.nii.gz", pred.astype(np.uint8), moved)
    assert _run(["metrics", shifted, ref_path, "--json"]) == 2
    assert "not on the reference grid" in capsys.readouterr().err


def test_missing_file_and_unknown_metric_exit_2(
    pair: tuple[str, str, np.ndarray, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    pred_path, ref_path, _, _ = pair
    assert _run(["metrics", pred_path, "/nonexistent/ref.nii.gz"]) == 2
    assert "not found" in capsys.readouterr().err
    assert _run(["metrics", pred_path, ref_path, "--metrics", "dice"]) == 2
    assert "unknown metric(s) dice" in capsys.readouterr().err
