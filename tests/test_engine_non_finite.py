"""A network whose output is not finite fails its rows with the reason; it is never scored as an empty mask.

Before, ``clamp`` let NaN through and ``prob >= 0.5`` turned it into background: the row was ``ok`` with DSC 0
and the note "prediction empty".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from robusteval.data.sources import list_cases
from robusteval.engine import ENGINES, EngineJob, make_plan
from robusteval.engine.work import check_finite_prediction
from robusteval.errors import CaseError
from robusteval.models.base import Prediction
from robusteval.protocol import load_protocol

NET = """
import torch


class Net(torch.nn.Module):
    def __init__(self, mode: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv3d(2, 1, 1)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.mode == "nan":
            return y * float("nan")
        if self.mode == "one_nan":  # one voxel of each window
            y = y.clone()
            y[..., 3, 3, 3] = float("nan")
        if self.mode == "inf":
            return y + float("inf")
        return y


def build(mode: str = "finite") -> Net:
    return Net(mode)
"""

MODES = ["finite", "nan", "one_nan", "inf"]


def _run(tmp_path: Path, engine: str) -> dict[str, dict[str, Any]]:
    rows = ["case_id,subject_id,site,scanner,partition,flair,t1,label"]
    rng = np.random.default_rng(0)
    img = rng.uniform(1.0, 2.0, (24, 24, 24)).astype(np.float32)
    lab = np.zeros((24, 24, 24), np.uint8)
    lab[10:14, 10:14, 10:14] = 1
    for name, arr in (("flair", img), ("t1", img), ("label", lab)):
        nib.save(nib.Nifti1Image(arr, np.eye(4)), tmp_path / f"c1_{name}.nii.gz")
    rows.append("c1,c1,A,s,test,c1_flair.nii.gz,c1_t1.nii.gz,c1_label.nii.gz")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "net.py").write_text(NET)
    models = "".join(
        f"  - {{name: {mode}, family: cnn, adapter: python, params: {{function: 'net:build', kwargs: {{mode: {mode}}}, "
        "normalization: none, roi_size: [16, 16, 16], amp: false}}\n"
        for mode in MODES
    )
    (tmp_path / "p.yaml").write_text(
        "name: nonfinite\ndataset:\n  source: manifest\n  path: manifest.csv\n"
        "  split:\n    in_distribution: {site: [A]}\n"
        f"models:\n{models}"
        f"metrics: {{panel: [dsc, hd95]}}\nexecution: {{engine: {engine}, device: cpu}}\n"
    )
    protocol = load_protocol(tmp_path / "p.yaml")
    job = EngineJob.from_protocol(
        protocol, make_plan(protocol, list_cases(protocol.dataset, tmp_path)), tmp_path / "p.yaml"
    )
    got: list[dict[str, Any]] = []
    ENGINES.get(engine)().run(job, lambda n, rows: got.extend(rows))
    return {r["model"]: r for r in got}


def test_non_finite_network_output_fails_the_row_with_the_reason(tmp_path: Path) -> None:
    rows = _run(tmp_path, "local")
    assert rows["finite"]["status"] == "ok"
    assert np.isfinite(rows["finite"]["dsc"])
    n = 24**3
    expected = {"nan": f"{n} NaN and 0 Inf", "one_nan": "NaN and 0 Inf", "inf": f"0 NaN and {n} Inf"}
    for mode, counts in expected.items():
        row = rows[mode]
        assert row["status"] == "failed", row
        assert row["error"].startswith(f"model {mode}: non-finite network output ("), row["error"]
        assert counts in row["error"]
        assert "dsc" not in row or np.isnan(row["dsc"])  # no score is recorded


def test_any_adapter_prediction_with_nan_or_inf_is_refused() -> None:
    prob = np.full((4, 4, 4), 0.2, np.float32)
    check_finite_prediction("m", Prediction(prob=prob, mask=prob >= 0.5))
    bad = prob.copy()
    bad[0, 0, 0] = np.nan
    bad[1, 0, 0] = np.inf
    with pytest.raises(CaseError, match=r"model m: non-finite probability map \(2 NaN/Inf voxels\)"):
        check_finite_prediction("m", Prediction(prob=bad, mask=bad >= 0.5))
    unc = np.zeros_like(prob)
    unc[2, 2, 2] = np.nan
    with pytest.raises(CaseError, match=r"non-finite uncertainty map \(1 NaN/Inf voxels\)"):
        check_finite_prediction("m", Prediction(prob=prob, mask=prob >= 0.5, uncertainty=unc))
