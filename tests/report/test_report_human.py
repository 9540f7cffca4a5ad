"""The human baseline end to end: a tiny manifest with a ``label_rater2`` column, a ``rater`` model beside an
external tool, one artifact and one label-noise shift; rows, summary and the report that shows the ceiling."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from robusteval.cli import main

SHAPE = (16, 16, 16)
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])
CASES = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}
PROTOCOL = """\
name: human-baseline
seed: 0
dataset:
  source: manifest
  path: data/manifest.csv
  split:
    in_distribution: {site: [A]}
    out_of_distribution: {site: [B]}
models:
  - {name: tool, family: external, adapter: predictions, params: {mask: "preds/{condition}/{case_id}.nii.gz"}}
  - {name: rater2, family: human, adapter: rater}
shifts:
  - {shift: bias_field, severities: [1]}
  - {shift: label_erode, severities: [1]}
metrics: {panel: [dsc]}
statistics: {n_resamples: 200}
execution: {engine: local}
"""


def _save(path: Path, data: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, AFFINE), str(path))
    return path.name


def _block(x0: int, x1: int) -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    mask[x0:x1, 6:10, 6:10] = 1
    return mask


@pytest.fixture(scope="module")
def human_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """Every case: label x in 6..9 (64 voxels); rater 2 x in 7..10 (48 shared: DSC 0.75); the tool x in 6..7
    (32 shared: DSC 2·32/96 = 0.667, below the human), on the clean and the bias_field-s1 images."""
    root = tmp_path_factory.mktemp("human")
    data = root / "data"
    rng = np.random.default_rng(0)
    rows = ["case_id,site,flair,t1,label,label_rater2"]
    for cid, site in CASES.items():
        images = [
            _save(data / f"{cid}_{m}.nii.gz", rng.uniform(1, 2, SHAPE).astype(np.float32)) for m in ("flair", "t1")
        ]
        label = _save(data / f"{cid}_label.nii.gz", _block(6, 10))
        rater2 = _save(data / f"{cid}_rater2.nii.gz", _block(7, 11))
        rows.append(f"{cid},{site},{images[0]},{images[1]},{label},{rater2}")
        for condition in ("clean", "bias_field-s1"):
            _save(root / "preds" / condition / f"{cid}.nii.gz", _block(6, 8))
    (data / "manifest.csv").write_text("\n".join(rows) + "\n")
    (root / "p.yaml").write_text(PROTOCOL)
    out = root / "out"
    code = main(["run", str(root / "p.yaml"), "--out", str(out), "--cache", str(root / "cache"), "--fresh"])
    return code, out


def test_human_rows_are_available_on_clean_and_label_noise_only(human_run: tuple[int, Path]) -> None:
    code, out = human_run
    assert code == 0  # unavailable rows are not failures
    cases = pd.read_csv(out / "cases.csv")
    human = cases[cases["model"] == "rater2"]
    assert set(human["family"]) == {"human"}
    status = human.groupby("shift")["status"].agg(set).to_dict()
    assert status == {"clean": {"ok"}, "label_erode": {"ok"}, "bias_field": {"unavailable"}}
    clean = human[human["shift"] == "clean"]
    assert len(clean) == 5  # ID and the other site's cases
    assert clean["dsc"].to_numpy() == pytest.approx([0.75] * 5)
    assert (human.loc[human["shift"] == "bias_field", "error"].str.contains("drawn on the clean images")).all()
    tool = cases[cases["model"] == "tool"]
    assert set(tool["status"]) == {"ok"}
    assert tool.loc[tool["shift"] == "clean", "dsc"].to_numpy() == pytest.approx([2 * 32 / 96] * 5)


def test_summary_has_no_efficiency_profile_and_no_human_family_effect(human_run: tuple[int, Path]) -> None:
    summary = json.loads((human_run[1] / "summary.json").read_text())
    entry = next(m for m in summary["models"] if m["model"] == "rater2")
    assert entry["parameters"] is None
    assert entry["latency_s"] is None
    assert entry["latency_method"].startswith("not applicable")
    pair = next(
        r
        for r in summary["model_vs_model"]
        if r.get("kind") == "pairwise" and r["condition"] == "clean" and r["split"] == "id" and r["metric"] == "dsc"
    )
    assert {pair["model_a"], pair["model_b"]} == {"tool", "rater2"}
    assert abs(pair["diff"]) == pytest.approx(0.75 - 2 * 32 / 96)
    assert all(r.get("kind") == "skipped" for r in summary["mixed_effects"])  # one model family without rater2


def test_report_shows_the_human_baseline_beside_the_models(human_run: tuple[int, Path]) -> None:
    html = (human_run[1] / "index.html").read_text()
    cards = dict(re.findall(r'card-label">([^<]+)</div>\s*<div class="card-model">([^<]+?) ?<span', html))
    assert cards["Best in distribution"] == "tool"  # the human scores higher but is not ranked
    assert cards["Human baseline (ceiling)"] == "rater2"
    assert "vs <b>human baseline (rater2)</b>" in html
    assert "mean dsc of annotation &#39;rater2&#39; against the reference label" in html
    assert '<tr class="human"><td>human baseline (rater2 vs the reference)</td>' in html  # the families table
    assert "22 rows (19 ok, 0 failed, 3 unavailable)" in html
    assert "; unavailable: no prediction for that condition, not failed" in html
    assert "dashed grey: the human baseline" in html
