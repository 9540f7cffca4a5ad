"""Section 6, small vs large lesions: lesion recall per size bin, model and family."""

from __future__ import annotations

__all__ = ["SIZE_BINS", "build"]

from typing import Any

from robusteval.report import figures as F
from robusteval.report.compare import (
    first_row,
)
from robusteval.report.embed import figure
from robusteval.report.fmt import (
    fmt_ci,
    fmt_num,
)
from robusteval.report.view import RunView
from robusteval.rundir import HUMAN_FAMILY

SIZE_BINS = {"lesion_recall_small": "small", "lesion_recall_medium": "medium", "lesion_recall_large": "large"}


def build(run: RunView) -> dict[str, Any]:
    bins = {m: lab for m, lab in SIZE_BINS.items() if m in run.metrics}
    out: dict[str, Any] = {"figures": [], "rows": [], "bins": list(bins.values()), "missing": None}
    if not bins:
        out["missing"] = (
            "This run does not measure lesion recall by size (add lesion_recall_small, _medium and "
            "_large to the metric panel)."
        )
        return out
    c = run.cells
    part = c[c["metric"].isin(list(bins)) & c["site"].isna()] if not c.empty else c
    if part.empty:
        out["missing"] = "No lesion-recall cells (every item failed, or no case has lesions of these sizes)."
        return out
    recs = [first_row(part.iloc[[i]]) for i in range(len(part))]
    labels = [run.label_of(r) for r in recs]
    keep = run.key_conditions(recs)
    frame = part.assign(panel=labels)
    frame = frame[frame["panel"].isin(keep)]
    frame = frame.iloc[sorted(range(len(frame)), key=lambda i: keep.index(frame["panel"].iloc[i]))]
    fig = figure(
        run,
        F.lesion_size_figure,
        (frame, bins, run.models, run.human),
        f"Lesion recall by lesion size per model (mean, {run.level:.0%} CI): ID clean, OOD sites and each "
        "shift at its highest severity",
    )
    if fig:
        out["figures"].append(fig)
    shifted = part[(part["shift"] != "clean") & (part["shift_family"] != "label_noise")]
    clean = part[(part["shift"] == "clean") & (part["split"] == "id")]
    for model in run.models:
        row: dict[str, Any] = {"model": model, "family": run.family_of(model), "values": []}
        for metric in bins:
            cc = clean[(clean["model"] == model) & (clean["metric"] == metric)]
            ss = shifted[(shifted["model"] == model) & (shifted["metric"] == metric)]["mean"]
            row["values"].append(
                {
                    "clean": fmt_num(cc["mean"].iloc[0]) if len(cc) else "n/a",
                    "clean_ci": fmt_ci(cc["ci_low"].iloc[0], cc["ci_high"].iloc[0]) if len(cc) else "",
                    "shifted": fmt_num(float(ss.mean())) if ss.notna().any() else "n/a",
                }
            )
        out["rows"].append(row)
    fam_rows = []
    for fam in sorted(set(run.families.values()), key=lambda f: (f == HUMAN_FAMILY, f)):
        members = [m for m in run.models if run.families.get(m) == fam]
        vals = []
        for metric in bins:
            c_mean = clean[clean["model"].isin(members) & (clean["metric"] == metric)]["mean"]
            s_mean = shifted[shifted["model"].isin(members) & (shifted["metric"] == metric)]["mean"]
            vals.append(
                {
                    "clean": fmt_num(float(c_mean.mean())) if c_mean.notna().any() else "n/a",
                    "shifted": fmt_num(float(s_mean.mean())) if s_mean.notna().any() else "n/a",
                }
            )
        label = "human baseline" if fam == HUMAN_FAMILY else fam
        fam_rows.append({"family": label, "models": ", ".join(members), "values": vals})
    out["families"] = fam_rows
    out["has_shifts"] = not shifted.empty
    return out
