"""Rows of external predictions through the CLI: one accounting (ok + failed + unavailable = rows) in
cases.csv, summary.json and the report, unavailable never counted or treated as failed; a pattern that names
no file is refused (exit 2) by validate and run, naming the pattern and the folder searched."""

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
CASES = {"a1": "A", "a2": "A", "a3": "A", "a4": "A", "b1": "B", "b2": "B"}
PROTOCOL = """\
name: accounting
seed: 0
dataset:
  source: manifest
  path: data/manifest.csv
  split:
    in_distribution: {site: [A]}
    out_of_distribution: {site: [B]}
models:
  - {name: tool, family: external, adapter: predictions, params: {mask: "MASK"}}
  - {name: rater2, family: human, adapter: rater}
shifts:
  - {shift: bias_field, severities: [1]}
metrics: {panel: [dsc]}
statistics: {n_resamples: 200}
execution: {engine: local}
"""
PATTERN = "preds/{condition}/{case_id}.nii.gz"
# 6 clean items + 4 shifted (site A) = 10 items x 2 models = 20 rows.
# tool: 7 ok; unavailable: b2 clean, a3 bias_field (no file); failed: a4 bias_field (file on another grid).
# rater2: 5 ok (clean); failed: b2 (no annotation); unavailable: the 4 bias_field items (drawn on clean images).
COUNTS = {"rows": 20, "ok": 12, "failed": 2, "unavailable": 6}
SITES = {"A": (4, 16, 10, 1, 5), "B": (2, 4, 2, 1, 1)}  # cases, rows, ok, failed, unavailable


def _save(path: Path, data: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, AFFINE), str(path))
    return path.name


def _block(x0: int, x1: int, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    mask[x0:x1, 6:10, 6:10] = 1
    return mask


def _project(root: Path, pattern: str = PATTERN) -> Path:
    """The manifest (b2 without a rater-2 annotation), the tool's files and the protocol; returns it."""
    data = root / "data"
    rng = np.random.default_rng(0)
    rows = ["case_id,site,flair,t1,label,label_rater2"]
    for cid, site in CASES.items():
        images = [
            _save(data / f"{cid}_{m}.nii.gz", rng.uniform(1, 2, SHAPE).astype(np.float32)) for m in ("flair", "t1")
        ]
        label = _save(data / f"{cid}_label.nii.gz", _block(6, 10))
        rater2 = "" if cid == "b2" else _save(data / f"{cid}_rater2.nii.gz", _block(7, 11))
        rows.append(f"{cid},{site},{images[0]},{images[1]},{label},{rater2}")
        if cid != "b2":
            _save(root / "preds" / "clean" / f"{cid}.nii.gz", _block(6, 8))
    for cid in ("a1", "a2"):
        _save(root / "preds" / "bias_field-s1" / f"{cid}.nii.gz", _block(6, 8))
    _save(root / "preds" / "bias_field-s1" / "a4.nii.gz", _block(6, 8, (16, 16, 15)))
    (data / "manifest.csv").write_text("\n".join(rows) + "\n")
    protocol = root / "p.yaml"
    protocol.write_text(PROTOCOL.replace("MASK", pattern))
    return protocol


@pytest.fixture(scope="module")
def accounting_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    root = tmp_path_factory.mktemp("accounting")
    protocol = _project(root)
    out = root / "out"
    code = main(["run", str(protocol), "--out", str(out), "--cache", str(root / "cache"), "--fresh"])
    return code, out


def _data_row(html: str, header: str) -> str:
    found = re.search(rf"<tr><th>{re.escape(header)}</th><td[^>]*>(.*?)</td></tr>", html)
    assert found is not None, header
    return found.group(1)


def test_cases_csv_summary_and_stats_count_the_same_rows(accounting_run: tuple[int, Path]) -> None:
    code, out = accounting_run
    assert code == 3  # two failed rows; the six unavailable ones change nothing
    cases = pd.read_csv(out / "cases.csv")
    by_status = cases["status"].value_counts().to_dict()
    assert {"rows": len(cases), **by_status} == COUNTS
    tool = cases[cases["model"] == "tool"].set_index(["case_id", "shift"])["status"]
    assert tool[("a3", "bias_field")] == tool[("b2", "clean")] == "unavailable"
    assert tool[("a4", "bias_field")] == "failed"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == COUNTS
    assert summary["dataset"]["failed_cases"] == ["a4", "b2"]
    data = summary["data"][0]
    assert (data["n_input_rows"], data["n_ok_rows"], data["n_failed_rows"], data["n_unavailable_rows"]) == (
        20,
        12,
        2,
        6,
    )
    notes = [r["note"] for r in summary["data"] if r["kind"] == "note"]
    assert not any("treated as failed" in n for n in notes)
    per_cell = {(r["kind"], r["model"], r["shift"], r["split"]): r["n"] for r in summary["data"][1:] if "n" in r}
    assert per_cell == {
        ("failed", "rater2", "clean", "ood"): 1,
        ("failed", "tool", "bias_field", "ood"): 1,
        ("unavailable", "rater2", "bias_field", "ood"): 4,
        ("unavailable", "tool", "bias_field", "ood"): 1,
        ("unavailable", "tool", "clean", "ood"): 1,
    }


def test_cells_exclude_unavailable_rows_without_calling_them_failed(accounting_run: tuple[int, Path]) -> None:
    cells = json.loads((accounting_run[1] / "summary.json").read_text())["cells"]
    shifted = next(c for c in cells if c["model"] == "tool" and c["shift"] == "bias_field")
    assert (shifted["n"], shifted["n_failed"], shifted["n_unavailable"]) == (2, 1, 1)
    assert shifted["mean"] == pytest.approx(2 * 32 / 96)  # a1, a2 only: nothing scored as a worst value
    assert "1 failed case(s) excluded" in shifted["note"]
    assert "1 case(s) without a prediction (unavailable) excluded" in shifted["note"]
    ood = next(c for c in cells if c["model"] == "tool" and c["shift"] == "clean" and c["split"] == "ood")
    assert (ood["n"], ood["n_failed"], ood["n_unavailable"]) == (1, 0, 1)
    # no prediction of the human baseline under the shift: no cell, rather than an empty "failed" one
    assert not [c for c in cells if c["model"] == "rater2" and c["shift"] == "bias_field"]


def test_report_data_section_agrees_with_summary_and_cases(accounting_run: tuple[int, Path]) -> None:
    html = (accounting_run[1] / "index.html").read_text()
    rows = _data_row(html, "result rows (model × case × condition)")
    assert rows.startswith("20 rows (12 ok, 2 failed, 6 unavailable)")
    assert "unavailable: no prediction for that condition, not failed" in rows
    assert _data_row(html, "cases with a failed item") == "2: a4, b2"
    assert "2 work item(s) failed" in html
    assert "6 result row(s) unavailable" in html
    for site, (n_cases, n_rows, n_ok, n_failed, n_unavailable) in SITES.items():
        numbers = "".join(f'<td class="num">{n}</td>' for n in (n_cases, n_rows, n_ok, n_failed, n_unavailable))
        assert f"<tr><td>{site}</td><td>{'id' if site == 'A' else 'ood'}</td>{numbers}" in html
        assert n_rows == n_ok + n_failed + n_unavailable
    assert "treated as failed" not in html
    assert "<summary>2 failed item(s)</summary>" in html


def test_report_refuses_a_summary_whose_status_counts_disagree(
    accounting_run: tuple[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The old accounting (unavailable rows counted as failed) against this cases.csv: refused, exit 2."""
    run_dir = tmp_path / "copy"
    run_dir.mkdir()
    for name in ("cases.csv", "summary.json"):
        (run_dir / name).write_bytes((accounting_run[1] / name).read_bytes())
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["counts"]["failed"] = 8
    (run_dir / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{run_dir / 'cases.csv'} has 2 failed rows but {run_dir / 'summary.json'} counted 8" in err


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_pattern_matching_no_file_is_exit_2_naming_pattern_and_folder(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pattern = "predictions/{condition}/{case_id}.nii.gz"  # the files are under preds/
    protocol = _project(tmp_path, pattern)
    args = [command, str(protocol), "--cache", str(tmp_path / "cache")]
    out = tmp_path / "out"
    code = main([*args, "--out", str(out)] if command == "run" else args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{protocol}:10: models[0]:" in err  # the model's line
    assert f"params.mask: pattern '{pattern}' matches no file" in err
    assert f"searched {tmp_path / 'predictions'}, which does not exist" in err
    assert not (out / "cases.csv").exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_pattern_naming_none_of_the_runs_files_is_exit_2(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The files exist, but not under the case ids (the manifest says ``sub-a1``, the tool wrote ``a1``)."""
    protocol = _project(tmp_path)
    manifest = tmp_path / "data" / "manifest.csv"
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join([lines[0], *(f"sub-{line}" for line in lines[1:])]) + "\n")
    args = [command, str(protocol), "--cache", str(tmp_path / "cache")]
    code = main([*args, "--out", str(tmp_path / "out")] if command == "run" else args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{protocol}:10: models[0]:" in err
    assert f"params.mask: pattern '{PATTERN}' names no file for any of the run's 10 work items" in err
    assert f"searched {tmp_path / 'preds'}; e.g. {tmp_path / 'preds/clean/sub-a1.nii.gz'} is missing" in err


def test_export_does_not_need_the_predictions_yet(tmp_path: Path) -> None:
    """`export` writes the test sets the tool's files are made from, so it does not check the pattern."""
    protocol = _project(tmp_path, "not-yet/{condition}/{case_id}.nii.gz")
    out = tmp_path / "exported"
    assert main(["export", str(protocol), "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    assert (out / "manifest.csv").is_file()
