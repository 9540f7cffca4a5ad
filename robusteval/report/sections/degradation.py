"""Section 3, degradation under shifts: curves against severity and the ROOD-MRI heatmap."""

from __future__ import annotations

__all__ = ["MAX_EXTRA_DEGRADATION_METRICS", "build"]

from typing import Any

import pandas as pd

from robusteval.report import figures as F
from robusteval.report.embed import figure
from robusteval.report.view import RunView

MAX_EXTRA_DEGRADATION_METRICS = 3


def build(run: RunView) -> dict[str, Any]:
    out: dict[str, Any] = {"figures": [], "extra": [], "missing": None}
    c = run.cells
    shifted = c[(c["shift"] != "clean") & (c["shift_family"] != "label_noise")] if not c.empty else c
    if shifted.empty:
        out["missing"] = "This run has no simulated shifts, so there are no degradation curves."
        return out
    h = run.headline
    level = f"{run.level:.0%}"
    fig = figure(
        run,
        F.degradation_figure,
        (c, h, run.models, run.human),
        f"{h} against severity per shift (mean, {level} CI band; severity 0 is the ID clean cell)"
        + ("; dashed grey: the human baseline's ID clean mean, the ceiling" if run.human else ""),
    )
    if fig:
        out["figures"].append(fig)
    rood = pd.DataFrame(run.records("robustness", "rood"))
    if not rood.empty and "degradation" in rood:
        heat = figure(
            run,
            F.degradation_heatmap,
            (rood, h, run.models),
            f"{h}: ROOD-MRI degradation per model and shift (severity weights alpha^s; + = worse)",
        )
        if heat:
            out["figures"].append(heat)
    candidates = [m for m in run.metrics if m != h and m in set(shifted["metric"]) and not run.descriptive(m)]
    extra = candidates[:MAX_EXTRA_DEGRADATION_METRICS]
    for metric in extra:
        f = figure(
            run, F.degradation_figure, (c, metric, run.models, run.human), f"{metric} against severity per shift"
        )
        if f:
            out["extra"].append(f)
    out["extra_note"] = (
        (
            f"Curves for the first {MAX_EXTRA_DEGRADATION_METRICS} other metrics; all metrics are in "
            "the tables of section 2."
        )
        if len(candidates) > len(extra)
        else ""
    )
    return out
