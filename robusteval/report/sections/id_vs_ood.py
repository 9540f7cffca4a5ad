"""Section 2, in distribution vs out of distribution: per metric and model, each OOD condition against ID clean."""

from __future__ import annotations

__all__ = ["build"]

from collections.abc import Mapping
from typing import Any

from robusteval.report.compare import (
    adjusted_ci,
    diff_status,
)
from robusteval.report.fmt import (
    fmt_ci,
    fmt_num,
    fmt_p,
)
from robusteval.report.view import RunView, id_means


def build(run: RunView) -> dict[str, Any]:
    out: dict[str, Any] = {"metrics": [], "missing": None}
    if run.cells.empty:
        out["missing"] = "No metric cells: every work item failed."
        return out
    for metric in run.metrics:
        id_cells = id_means(run, metric)
        blocks = []
        for model in run.models:
            c = id_cells.get(model)
            rows = []
            recs = sorted(run.records("id_vs_ood", metric=metric, model=model), key=run.order_key)
            for r in recs:
                cell = _ood_cell(run, metric, r)
                rows.append(
                    {
                        "condition": run.label_of(r),
                        "n": r.get("n_ood"),
                        "mean": fmt_num(cell.get("mean") if cell else r.get("mean_ood")),
                        "ci": fmt_ci(cell.get("ci_low"), cell.get("ci_high")) if cell else "no CI",
                        "diff": fmt_num(r.get("diff")),
                        "diff_ci": fmt_ci(*adjusted_ci(r)),
                        "p": fmt_p(r.get("p_adjusted")),
                        "significant": r.get("significant"),
                        "cls": diff_status(run, metric, r.get("diff"), r.get("significant")),
                        "kind": ("paired t (same cases)" if r.get("kind") == "paired" else "Welch t (two-sample)")
                        + (", subjects clustered" if r.get("clustered") else ""),
                        "note": r.get("note", ""),
                    }
                )
            if c is None and not rows:
                continue
            blocks.append(
                {
                    "model": model,
                    "family": run.family_of(model),
                    "id_mean": fmt_num(c["mean"]) if c else "n/a",
                    "id_ci": fmt_ci(c.get("ci_low"), c.get("ci_high")) if c else "no CI",
                    "id_n": c.get("n") if c else 0,
                    "id_note": c.get("note", "") if c else "",
                    "rows": rows,
                }
            )
        worst = [
            {
                "model": r.get("model"),
                "grouping": r.get("grouping"),
                "avg": fmt_num(r.get(f"{metric}_avg")),
                "wg": fmt_num(r.get(f"{metric}_wg")),
                "group": r.get("worst_group") or "n/a",
                "n_groups": r.get("n_groups"),
                "note": r.get("note", ""),
            }
            for r in run.records("robustness", "worst_group", metric=metric)
        ]
        if blocks or worst:
            out["metrics"].append(
                {
                    "metric": metric,
                    "unit": run.unit(metric),
                    "direction": run.direction(metric),
                    "blocks": blocks,
                    "worst": worst,
                    "has_ood": any(b["rows"] for b in blocks),
                }
            )
    if not out["metrics"]:
        out["missing"] = "No metric cells: every work item failed."
    return out


def _ood_cell(run: RunView, metric: str, rec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cell record of an ID-vs-OOD record's OOD side."""
    model = rec.get("model")
    if rec.get("kind") == "site":
        site = rec.get("site")
        cands = run.records("cells", metric=metric, model=model, shift="clean", split="ood", site=site)
        if not cands and len(run.ood_sites) == 1:
            cands = run.records("cells", metric=metric, model=model, shift="clean", split="ood", site=None)
    else:
        cands = [
            c
            for c in run.records("cells", metric=metric, model=model, shift=rec.get("shift"), site=None)
            if c.get("severity") == rec.get("severity")
        ]
    return cands[0] if cands else None
