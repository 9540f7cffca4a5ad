"""Section 4, paired differences: model vs model and ID vs OOD forest plots, the mixed model."""

from __future__ import annotations

__all__ = ["MAX_FOREST_ROWS", "build"]

from collections.abc import Callable
from typing import Any

import pandas as pd

from robusteval.report import figures as F
from robusteval.report.compare import (
    adjusted_ci,
    diff_status,
    neg,
    term_row,
)
from robusteval.report.embed import figure
from robusteval.report.view import RunView

MAX_FOREST_ROWS = 48


def _forest_rows(
    run: RunView, metric: str, recs: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]
) -> tuple[pd.DataFrame, str]:
    """Forest rows for ``recs`` (ordered by condition); when too many, only the key conditions."""
    recs = [r for r in recs if run.order_key(r)[0] != 4]
    note = ""
    if len(recs) > MAX_FOREST_ROWS:
        keep = set(run.key_conditions(recs))
        total = len(recs)
        recs = [r for r in recs if run.label_of(r) in keep]
        shown = "ID clean, the OOD sites and each shift at its highest severity"
        note = f"{len(recs)} of {total} differences shown: {shown}."
    recs = sorted(recs, key=run.order_key)
    rows = pd.DataFrame(
        {
            "label": [label(r) for r in recs],
            "estimate": [r.get("diff") for r in recs],
            "ci_low": [adjusted_ci(r)[0] for r in recs],
            "ci_high": [adjusted_ci(r)[1] for r in recs],
            "status": [diff_status(run, metric, r.get("diff"), r.get("significant")) for r in recs],
        }
    )
    return rows, note


def _add_forest(out: dict[str, Any], run: RunView, forest: tuple[pd.DataFrame, str], axis: str, title: str) -> None:
    """The forest plot of ``forest`` (rows and a note, from :func:`_forest_rows`) and its note, into ``out``."""
    rows, note = forest
    fig = figure(run, F.forest_figure, (rows, axis), title)
    if fig:
        out["figures"].append(fig)
    if note:
        out["notes"].append(note)


def _pair_label(run: RunView) -> Callable[[dict[str, Any]], str]:
    def label(r: dict[str, Any]) -> str:
        return f"{run.name(r['model_a'])} - {run.name(r['model_b'])} | {run.label_of(r)}"

    return label


def build(run: RunView) -> dict[str, Any]:
    h = run.headline
    out: dict[str, Any] = {"figures": [], "notes": [], "missing": None, "mixed": None, "mixed_missing": None}
    pairs = [dict(r) for r in run.records("model_vs_model", "pairwise", metric=h)]
    rank = {m: i for i, m in enumerate(run.models)}
    if pairs:
        for r in pairs:  # orient every pair as (better-ranked in distribution) - (worse-ranked)
            a, b = str(r["model_a"]), str(r["model_b"])
            if rank.get(a, 0) > rank.get(b, 0):
                r["diff"], r["ci_low"], r["ci_high"] = (
                    neg(r.get("diff")),
                    neg(r.get("ci_high")),
                    neg(r.get("ci_low")),
                )
                if "ci_adjusted_low" in r:
                    r["ci_adjusted_low"], r["ci_adjusted_high"] = (
                        neg(r.get("ci_adjusted_high")),
                        neg(r.get("ci_adjusted_low")),
                    )
                r["model_a"], r["model_b"] = b, a
        pairs.sort(key=lambda r: (rank.get(r["model_a"], 0), rank.get(r["model_b"], 0)))
        _add_forest(
            out,
            run,
            _forest_rows(run, h, pairs, _pair_label(run)),
            f"{h} difference (first - second model); {run.direction(h)}",
            f"Model vs model (exploratory): paired differences of {h} per condition with intervals adjusted as "
            "the p-values are; filled = significant after correction (green: first model better, red: worse)",
        )
    else:
        out["notes"].append("Model vs model: fewer than two models in this run, so no paired differences.")
    ivo = [r for r in run.records("id_vs_ood", metric=h)]
    ivo.sort(key=lambda r: rank.get(str(r.get("model")), 0))
    if ivo:
        _add_forest(
            out,
            run,
            _forest_rows(run, h, ivo, lambda r: f"{run.name(str(r['model']))} | {run.label_of(r)}"),
            f"{h}: OOD - ID clean; {run.direction(h)}",
            f"ID vs OOD (exploratory): difference of {h} per model and OOD condition with intervals adjusted as "
            "the p-values are; filled = significant after correction (red: worse OOD)",
        )
    else:
        out["notes"].append("ID vs OOD: this run has no OOD conditions with an ID clean reference.")
    mixed = run.records("mixed_effects", metric=h)
    fit = next((r for r in mixed if r.get("kind") == "fit"), None)
    if fit is not None:
        out["mixed"] = {
            "formula": fit.get("formula", ""),
            "n_obs": fit.get("n_obs"),
            "n_groups": fit.get("n_groups"),
            "converged": fit.get("converged"),
            "accepted": fit.get("accepted", True),
            "warnings": fit.get("warnings") or [],
            "note": fit.get("note", ""),
            "dropped": fit.get("dropped_terms") or [],
            "terms": [term_row(run, r) for r in mixed if r.get("kind") == "coefficient"],
        }
    else:
        skipped = next((r for r in mixed if r.get("kind") == "skipped"), None)
        out["mixed_missing"] = (
            f"Mixed model not fitted: {skipped.get('note', '')}" if skipped else "No mixed-model records."
        )
    if not pairs and not ivo:
        out["missing"] = "Nothing to compare: one model and no OOD conditions."
    return out
