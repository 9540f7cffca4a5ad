"""Example overlays: which condition and cases are drawn (hand-made tables), and the figure itself."""

from __future__ import annotations

import numpy as np
import pandas as pd

from robusteval.conditions import ConditionKey
from robusteval.data.case import Case
from robusteval.illustrate import choose_examples
from robusteval.viz.overlays import OverlayRow, overlay_figure


def _rows(spec: list[tuple[str, str, str, int, str, float]]) -> pd.DataFrame:
    cols = ["model", "case_id", "shift", "severity", "shift_family", "dsc"]
    df = pd.DataFrame(spec, columns=cols)
    return df.assign(status="ok", split=np.where(df["shift"] == "clean", "id", "ood"))


def test_worst_condition_and_worst_and_median_cases() -> None:
    rows = []
    for m, offset in (("a", 0.0), ("b", 0.1)):
        for c, base in (("c1", 0.9), ("c2", 0.5), ("c3", 0.7), ("c4", 0.8)):
            rows.append((m, c, "clean", 0, "", base + offset))
            rows.append((m, c, "blur", 3, "artifact", base - 0.1 + offset))
            rows.append((m, c, "motion", 5, "artifact", base - 0.3 + offset))
            rows.append((m, c, "label_erode", 5, "label_noise", 0.0))  # worst, but label noise: never chosen
    condition, picks = choose_examples(_rows(rows), "dsc", higher_is_better=True)
    assert condition == ConditionKey("motion", 5)
    assert condition.label == "motion@5"
    # means under motion@5 over models: c2 0.25 < c3 0.45 < c4 0.55 < c1 0.65; median = lower middle (c3)
    assert picks == [("worst", "c2"), ("median", "c3")]


def test_lower_is_better_metric_and_no_shifts() -> None:
    rows = [("a", "c1", "clean", 0, "", 3.0), ("a", "c2", "clean", 0, "", 9.0), ("a", "c3", "clean", 0, "", 5.0)]
    df = _rows(rows).rename(columns={"dsc": "hd95"})
    condition, picks = choose_examples(df, "hd95", higher_is_better=False)
    assert condition is None
    assert picks == [("worst", "c2"), ("median", "c3")]


def test_failed_rows_are_ignored() -> None:
    df = _rows([("a", "c1", "clean", 0, "", 0.1), ("a", "c2", "clean", 0, "", 0.9)])
    df.loc[0, "status"] = "failed"
    assert choose_examples(df, "dsc", True)[1] == [("worst", "c2")]


def test_example_figure_has_one_panel_per_model_and_row() -> None:
    shape = (12, 14, 10)
    label = np.zeros(shape, bool)
    label[4:7, 4:7, 6] = True
    case = Case("c", "s", "A", "x", {"flair": np.ones(shape, np.float32)}, label, np.eye(4))
    fig = overlay_figure(
        [
            OverlayRow("clean", case, {"m1": label, "m2": label}, {"m1": 1.0}),
            OverlayRow("x@1", case, {"m1": label, "m2": label}),
        ],
        "dsc",
        "t",
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "clean: image + reference",
        "m1: dsc 1.000",
        "m2: dsc nan",
        "x@1: image + reference",
        "m1: dsc nan",
        "m2: dsc nan",
    ]
