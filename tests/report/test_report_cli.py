"""``python -m robusteval report DIR`` on damaged run dirs: exit 2 with one line naming the file, nothing written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from report_fixtures import write_run

from robusteval.cli import main
from robusteval.stats.synthetic import make_cases


def _report(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["report", str(run_dir)])
    return code, capsys.readouterr().err


def test_truncated_summary_json_is_exit_2_naming_the_file(
    minimal_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = minimal_run / "summary.json"
    summary.write_text(summary.read_text()[:300])
    code, err = _report(minimal_run, capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"error: {summary}: unreadable (")
    assert "truncated or corrupt" in err
    assert not (minimal_run / "index.html").exists()


def test_corrupt_cases_csv_is_exit_2_naming_the_file(minimal_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = minimal_run / "cases.csv"
    cases.write_bytes(b"\x1f\x8b\x08\x00\xff" * 40)  # binary bytes, e.g. a gzip written over it
    code, err = _report(minimal_run, capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"error: {cases}: unreadable (")
    assert not (minimal_run / "index.html").exists()


def test_cases_csv_cut_inside_a_quoted_field_is_exit_2(minimal_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = minimal_run / "cases.csv"
    cases.write_text("".join(cases.read_text().splitlines(keepends=True)[:3]) + '"unet,cnn,A0')
    code, err = _report(minimal_run, capsys)
    assert code == 2
    assert err.startswith(f"error: {cases}: unreadable (")
    assert "EOF inside string" in err


def test_truncated_cases_csv_disagrees_with_summary_counts(
    minimal_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two of the four rows lost, the third cut mid-line: refused, both row counts in the message."""
    cases = minimal_run / "cases.csv"
    lines = cases.read_text().splitlines(keepends=True)
    assert len(lines) == 5  # header + 4 rows
    cases.write_text("".join(lines[:3]) + lines[3][:30])
    code, err = _report(minimal_run, capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert f"error: {cases} has 3 rows but {minimal_run / 'summary.json'} counted 4" in err
    assert not (minimal_run / "index.html").exists()


def test_last_row_cut_before_its_status_is_exit_2(minimal_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The row count still matches (the cut row is read with empty fields); its missing status gives it away."""
    cases = minimal_run / "cases.csv"
    lines = cases.read_text().splitlines(keepends=True)
    cases.write_text("".join(lines[:-1]) + lines[-1][:20])
    code, err = _report(minimal_run, capsys)
    assert code == 2
    assert f"error: {cases}: line 5 has status ''" in err


def test_data_section_counts_cases_evaluated_not_cases_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Six cases listed, two of them failed to load (every row failed): the data section says 4 evaluated."""
    cases = make_cases(models={"unet": "cnn", "vit": "vit"}, n_id=6, ood_sites={}, shifts={}, severities=(), seed=0)
    broken = cases["case_id"].isin(["A004", "A005"])
    cases.loc[broken, ["status", "error"]] = ["failed", "CaseError: flair: file not found"]
    cases.loc[broken, ["dsc", "hd95"]] = np.nan
    run_dir = write_run(tmp_path / "run", cases, ["dsc", "hd95"])
    code, _ = _report(run_dir, capsys)
    assert code == 0
    html = (run_dir / "index.html").read_text(encoding="utf-8")
    listed = re.search(r"<th>cases listed</th><td class=\"num\">(\d+)</td>", html)
    evaluated = re.search(r"<th>cases evaluated</th><td class=\"num\">(\d+)</td>", html)
    assert listed is not None
    assert evaluated is not None
    assert (int(listed.group(1)), int(evaluated.group(1))) == (6, 4)
    assert "12 rows (8 ok, 4 failed, 0 unavailable)" in html  # rows: 2 models x 6 cases


_PROBE = """
import json, sys
from robusteval.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_report_command_imports_no_stage_that_produces_a_run(minimal_run: Path) -> None:
    """``report DIR`` reads the run folder: in a fresh interpreter it imports no deep-learning stack and none of
    the stages that produce a run (they drew the folder's images already)."""
    done = subprocess.run([sys.executable, "-c", _PROBE, "report", str(minimal_run)], capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    modules = set(report["modules"])
    assert modules.isdisjoint({"torch", "monai", "ray", "torchio"})
    stages = ("engine", "models", "shifts", "search", "illustrate", "viz", "run", "stats")
    assert {m for m in modules if m.split(".")[:2] in [["robusteval", s] for s in stages]} == set()
