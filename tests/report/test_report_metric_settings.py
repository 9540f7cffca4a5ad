"""The report's provenance names the metric settings a run used (its convention above all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from robusteval.report.sections import provenance
from robusteval.report.view import RunView


def _rows(summary: dict[str, Any]) -> dict[str, str]:
    run = RunView(dir=Path("."), summary=summary, cases=pd.DataFrame(), cells=pd.DataFrame(), headline="dsc",
               metrics=["dsc"], models=[], families={}, ood_sites=[], level=0.95, correction="holm",
               noise_shifts=frozenset())  # fmt: skip
    return dict(provenance.build(run)["rows"])


def test_provenance_lists_the_metric_settings_but_the_panel() -> None:
    metrics = {"panel": ["dsc", "hd95"], "convention": "wmh2017", "nsd_tolerance_mm": 1.0, "surface": "voxel"}
    rows = _rows({"protocol": {"name": "p", "metrics": metrics}, "provenance": {}})
    assert rows["metric settings"] == "convention wmh2017, nsd_tolerance_mm 1, surface voxel"


def test_a_summary_without_metric_settings_says_so() -> None:
    assert _rows({"protocol": {"name": "p"}, "provenance": {}})["metric settings"] == "n/a"
