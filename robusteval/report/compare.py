"""Reading comparison records: pairwise differences oriented as ``a - b``, adjusted intervals, the CSS status
of a difference, OOD cells and pooled robustness records."""

from __future__ import annotations

__all__ = [
    "adjusted_ci",
    "comparison",
    "diff_status",
    "first_row",
    "neg",
    "ood_cells",
    "oriented",
    "pair_record",
    "pooled",
    "pooled_comparison",
    "term_row",
]

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from robusteval.report.fmt import finite, fmt_ci, fmt_num, fmt_p
from robusteval.report.view import RunView


def neg(value: Any) -> Any:
    return -float(value) if finite(value) else value


def pair_record(run: RunView, metric: str, rec_filter: Mapping[str, Any], a: str, b: str) -> dict[str, Any] | None:
    """The pairwise record of ``a`` vs ``b`` oriented as ``a - b`` (None when there is none)."""
    return oriented(run.records("model_vs_model", "pairwise", metric=metric, **rec_filter), a, b)


def oriented(records: Iterable[Mapping[str, Any]], a: str, b: str) -> dict[str, Any] | None:
    """The first record comparing ``model_a`` and ``model_b`` = {a, b}, its difference oriented as ``a - b``."""
    for r in records:
        if {r.get("model_a"), r.get("model_b")} != {a, b}:
            continue
        flip = r.get("model_a") != a
        diff, lo, hi = r.get("diff"), r.get("ci_low"), r.get("ci_high")
        alo, ahi = r.get("ci_adjusted_low"), r.get("ci_adjusted_high")
        if flip:
            diff, lo, hi, alo, ahi = neg(diff), neg(hi), neg(lo), neg(ahi), neg(alo)
        out = {**r, "a": a, "b": b, "diff": diff, "ci_low": lo, "ci_high": hi}
        if "ci_adjusted_low" in r:
            out.update(ci_adjusted_low=alo, ci_adjusted_high=ahi)
        return out
    return None


def comparison(run: RunView, pair: dict[str, Any] | None, metric: str) -> dict[str, Any] | None:
    if pair is None:
        return None
    better = finite(pair.get("diff")) and run.sign(metric) * float(pair["diff"]) > 0
    low, high = adjusted_ci(pair)
    return {
        "other": run.name(str(pair["b"])),
        "diff": fmt_num(pair.get("diff")),
        "ci": fmt_ci(low, high),
        "p": fmt_p(pair.get("p_adjusted")),
        "significant": pair.get("significant"),
        "better": better,
        "correction": pair.get("correction") or run.correction,
        "family_size": pair.get("family_size"),
        "n": pair.get("n"),
        "where": None,
    }


def adjusted_ci(rec: Mapping[str, Any]) -> tuple[Any, Any]:
    """The interval adjusted as the record's p-value was (it excludes 0 exactly when ``significant``); the
    unadjusted one for records without an adjusted interval (older runs, untested records)."""
    if "ci_adjusted_low" in rec and rec.get("p_adjusted") is not None:
        return rec.get("ci_adjusted_low"), rec.get("ci_adjusted_high")
    return rec.get("ci_low"), rec.get("ci_high")


def diff_status(run: RunView, metric: str, diff: Any, significant: Any) -> str:
    """CSS class of a difference: better/worse when significant, ns-better/ns-worse when not, nt untested;
    descriptive metrics (volumes) have no better or worse: ``changed`` when significant, else ``ns``."""
    if not finite(diff) or float(diff) == 0:
        return "nt" if significant is None else "ns"
    if run.descriptive(metric):
        return "changed" if significant is True else ("nt" if significant is None else "ns")
    direction = "better" if run.sign(metric) * float(diff) > 0 else "worse"
    if significant is True:
        return direction
    return "nt" if significant is None else f"ns-{direction}"


def ood_cells(run: RunView, metric: str) -> pd.DataFrame:
    c = run.cells
    if c.empty:
        return c
    m = c[(c["metric"] == metric) & c["site"].isna() & c["mean"].notna()]
    return m[~((m["shift"] == "clean") & (m["split"] == "id")) & (m["shift_family"] != "label_noise")]


def pooled(run: RunView, quantity: str) -> dict[str, dict[str, Any]]:
    """The ``pooled`` robustness records of the headline metric for ``quantity``, by model."""
    recs = run.records("robustness", "pooled", metric=run.headline, quantity=quantity)
    return {str(r["model"]): r for r in recs if finite(r.get("estimate"))}


def pooled_comparison(run: RunView, quantity: str, a: str, b: str, lower_is_better: bool) -> dict[str, Any] | None:
    """The ``pooled_vs`` record of ``a`` vs ``b`` oriented as ``a - b``, as a card comparison."""
    pair = oriented(run.records("robustness", "pooled_vs", metric=run.headline, quantity=quantity), a, b)
    comp = comparison(run, pair, run.headline)
    if pair is not None and comp is not None:
        diff = pair["diff"]
        d = float(diff) if diff is not None and finite(diff) else math.nan
        comp["better"] = d < 0 if lower_is_better else run.sign(run.headline) * d > 0
        comp["where"] = "the per-case " + ("degradation" if quantity == "degradation" else "OOD mean") + " (paired)"
    return comp


def first_row(frame: pd.DataFrame) -> dict[str, Any]:
    return {str(k): v for k, v in frame.iloc[0].to_dict().items()}


def term_row(run: RunView, r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "term": r.get("term", ""),
        "estimate": fmt_num(r.get("estimate")),
        "ci": fmt_ci(r.get("ci_low"), r.get("ci_high")),
        "p": fmt_p(r.get("p_adjusted")),
        "significant": r.get("significant"),
        "cls": diff_status(run, run.headline, r.get("estimate"), r.get("significant")),
        "note": r.get("note", ""),
    }
