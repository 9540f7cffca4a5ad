"""Section 5, distributions, significance maps and rank stability of the headline metric."""

from __future__ import annotations

__all__ = ["build"]

from typing import Any

import pandas as pd

from robusteval.report import figures as F
from robusteval.report.embed import figure
from robusteval.report.fmt import (
    fmt_ci,
    fmt_num,
)
from robusteval.report.view import RunView


def build(run: RunView) -> dict[str, Any]:
    h = run.headline
    out: dict[str, Any] = {"figures": [], "notes": [], "taus": [], "missing": None}
    if h not in run.cases:
        out["missing"] = f"cases.csv has no {h} column."
        return out
    fig = figure(
        run,
        F.distribution_figure,
        (run.cases, h, run.models, run.human),
        f"Per-case {h} by model: box (quartiles, whiskers 1.5 IQR) and points (cases)",
    )
    if fig:
        out["figures"].append(fig)
    else:
        out["notes"].append(f"No successful per-case {h} values to plot.")
    if len(run.models) < 2:
        out["notes"].append("Only one model: no significance map or rank stability.")
        return out
    sig = run.records("model_vs_model", "significance", metric=h)
    if sig:
        conds = run.key_conditions(sig)[:8]
        frame = pd.DataFrame(sig).assign(panel=[run.label_of(r) for r in sig])
        f = figure(
            run,
            F.significance_map_figure,
            (frame, conds, run.models, run.human),
            f"Significance maps ({h}): filled where the row model is significantly better than the column "
            f"model (one-sided Wilcoxon, {run.correction}-adjusted within each condition)",
        )
        if f:
            out["figures"].append(f)
    else:
        out["notes"].append("No significance-map records in this run.")
    ranks = [r for r in run.records("ranks", "rank", metric=h) if run.order_key(r)[0] != 4]
    if ranks:
        labels = sorted({run.label_of(r): run.order_key(r) for r in ranks}.items(), key=lambda kv: kv[1])
        conds = [k for k, _ in labels]
        if len(conds) > 12:
            conds = run.key_conditions(ranks)
        frame = pd.DataFrame(ranks).assign(panel=[run.label_of(r) for r in ranks])
        f = figure(
            run,
            F.rank_blob_figure,
            (frame, conds, run.models, run.human),
            f"Rank stability ({h}): disc area = bootstrap probability of each rank; black = median rank "
            f"and {run.level:.0%} interval",
        )
        if f:
            out["figures"].append(f)
    out["taus"] = [
        {
            "condition": run.label_of(r),
            "tau": fmt_num(r.get("tau_median")),
            "ci": fmt_ci(r.get("tau_ci_low"), r.get("tau_ci_high")),
            "n_cases": r.get("n_cases"),
            "note": r.get("note", ""),
        }
        for r in sorted(run.records("ranks", "kendall_tau", metric=h), key=run.order_key)
    ]
    skipped = run.records("ranks", "skipped")
    if skipped and not ranks:
        out["notes"].append(f"Ranking skipped: {skipped[0].get('note', '')}")
    return out
