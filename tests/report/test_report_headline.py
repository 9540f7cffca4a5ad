"""``report DIR --markdown``: the headline table, its numbers taken from the run and checked by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from robusteval.cli import main as cli
from robusteval.report.headline import headline_markdown
from robusteval.report.view import load_run


def _table(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows]


def test_the_headline_table_has_one_row_per_model_with_the_runs_numbers(rich_run: Path) -> None:
    rows = _table(headline_markdown(load_run(rich_run)))
    header, body = rows[0], rows[2:]
    assert header == [
        "model", "family", "ID DSC", "OOD sites DSC", "shift degradation", "parameters", "latency (s/case)",
        "CO2 (g/1,000 cases)",
    ]  # fmt: skip
    assert sorted(r[0] for r in body) == ["resunet", "swinunetr", "unet", "unetr"]
    cases = pd.read_csv(rich_run / "cases.csv")
    ok = cases[cases["status"] == "ok"]
    for row in body:
        mine = ok[(ok["model"] == row[0]) & (ok["shift"] == "clean")]
        id_mean = mine.loc[mine["split"] == "id", "dsc"].mean()
        ood_mean = mine.loc[mine["split"] == "ood", "dsc"].mean()
        assert float(row[2].split()[0]) == pytest.approx(id_mean, abs=5e-4)
        assert float(row[3].split()[0]) == pytest.approx(ood_mean, abs=5e-4)
        low, high = (float(v) for v in row[2].split(maxsplit=1)[1].strip("[]").split(","))
        assert low <= id_mean <= high
        assert row[4] != "n/a"  # every model has the simulated shifts
    unet = next(r for r in body if r[0] == "unet")
    assert (unet[5], unet[6]) == ("1.9 M", "0.410")


def test_the_command_prints_it_and_refuses_a_folder_that_is_not_a_run(
    rich_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["report", str(rich_run), "--markdown"]) == 0
    assert capsys.readouterr().out == headline_markdown(load_run(rich_run))
    assert cli(["report", str(tmp_path), "--markdown"]) == 2
