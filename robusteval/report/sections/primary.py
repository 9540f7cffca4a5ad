"""The verdict's primary questions: estimates with intervals adjusted as their p-values, power, and notes on
small samples, clustering and failed fits."""

from __future__ import annotations

__all__ = ["primary_verdict"]

import math
from collections.abc import Mapping
from typing import Any

from robusteval.report.fmt import (
    finite,
    fmt_ci,
    fmt_num,
    fmt_p,
)
from robusteval.report.view import RunView


def _fraction(p: float) -> str:
    """A p-value floor as a fraction when it is one (``1/32``), else its number."""
    inv = 1.0 / p if p > 0 else math.inf
    return f"1/{round(inv)}" if math.isfinite(inv) and abs(inv - round(inv)) < 1e-9 else fmt_p(p)


def _question_cls(run: RunView, r: Mapping[str, Any]) -> str:
    """CSS class of a primary question: drops and degradations (+ = worse) are red when significantly
    positive; an ID-score difference of families A - B is green when A is significantly better."""
    raw, sig = r.get("estimate"), r.get("significant")
    est = float(raw or 0.0) if finite(raw) else 0.0
    if sig is None or est == 0:
        return "nt" if sig is None else "ns"
    good = run.sign(str(r.get("metric", run.headline))) * est > 0 if r.get("question") == "id_score" else est < 0
    direction = "better" if good else "worse"
    return direction if sig is True else f"ns-{direction}"


def primary_verdict(run: RunView) -> dict[str, Any]:
    """The primary questions (first in the verdict): estimates with the intervals adjusted as their p-values,
    the power line and warnings, and the notes on small samples, clustering and failed fits."""
    out: dict[str, Any] = {"rows": [], "power": [], "warnings": [], "notes": [], "missing": None, "intro": ""}
    out["metric"] = None
    questions = run.records("primary", "question")
    family = next(iter(run.records("primary", "family")), None)
    if not questions:
        skipped = next(iter(run.records("primary", "skipped")), None)
        out["missing"] = (
            f"No primary questions: {skipped.get('note', '')}."
            if skipped
            else "No primary questions in this run's summary (written by an older robusteval)."
        )
    else:
        metric = str(questions[0].get("metric", run.headline))
        level = f"{run.level:.0%}"
        m = family.get("family_size") if family else None
        correction = (family or {}).get("correction") or "holm"
        out["metric"] = metric
        out["intro"] = (
            f"{m} test(s) in one family, {correction}-adjusted; each interval is adjusted the same way as its "
            f"p-value (it excludes 0 exactly when the adjusted p is below {1 - run.level:.2g}). ID scores are "
            f"estimates with their {level} interval, not tests. Drops and degradations: + = worse OOD. Family "
            "differences are A - B of each case's mean over the family's models."
        )
        not_asked: dict[str, list[str]] = {}
        for r in questions:
            if r.get("estimate") is None and str(r.get("note", "")).startswith("not asked: "):
                not_asked.setdefault(str(r["note"]).removeprefix("not asked: "), []).append(str(r.get("label", "")))
                continue
            tested = r.get("p_adjusted") is not None
            low, high = (
                (r.get("ci_adjusted_low"), r.get("ci_adjusted_high")) if tested else (r.get("ci_low"), r.get("ci_high"))
            )
            flags = []
            if r.get("small_sample"):
                flags.append("small n")
            if r.get("clustered"):
                flags.append("clustered")
            level_r = r.get("adjusted_level") if tested else run.level
            out["rows"].append(
                {
                    "label": r.get("label", ""),
                    "estimate": fmt_num(r.get("estimate")),
                    "ci": fmt_ci(low, high),
                    "level": f"{float(level_r or 0):.1%}" if finite(level_r) else "",
                    "p": fmt_p(r.get("p_adjusted")) if tested else "estimate",
                    "significant": r.get("significant") if tested else None,
                    "tested": tested,
                    "cls": _question_cls(run, r),
                    "n": r.get("n_units") if r.get("n_units") is not None else r.get("n"),
                    "mdd": fmt_num(r.get("mdd")),
                    "flags": ", ".join(flags),
                    "note": r.get("note", ""),
                }
            )
        for why, labels in not_asked.items():
            out["notes"].append(f"Not asked ({why}): {'; '.join(labels)}.")
        if family is not None:
            out["power"].extend(_power_lines(family, questions, metric))
            out["warnings"].extend(_power_warnings(family, questions, metric))
    out["notes"].extend(_reliability_notes(run))
    return out


def _power_lines(family: Mapping[str, Any], questions: list[dict[str, Any]], metric: str) -> list[str]:
    tested = [q for q in questions if finite(q.get("mdd"))]
    if not tested:
        return []
    mdds = sorted(float(q["mdd"]) for q in tested)
    a, m = float(family.get("alpha_per_test") or 0.05), family.get("family_size")
    power = float(family.get("power") or 0.8)
    span = fmt_num(mdds[0]) if len(mdds) == 1 else f"{fmt_num(mdds[0])} to {fmt_num(mdds[-1])}"
    lines = [
        f"Power: at the run's n ({family.get('n_id_cases')} ID case(s), {family.get('n_ood_site_cases')} OOD-site "
        f"case(s)) and alpha = {float(family.get('alpha') or 0.05):g}/{m} = {a:.2g} (the level the smallest p must "
        f"reach), the primary tests detect with {power:.0%} power differences of {span} {metric} (minimum "
        "detectable difference, given the spread observed)."
    ]
    floors = [float(q["p_floor_rank"]) for q in tested if finite(q.get("p_floor_rank"))]
    if floors and max(floors) >= a:
        worst = max(floors)
        lines.append(
            f"An exact rank test (Wilcoxon signed-rank, Mann-Whitney) could not go below p = {_fraction(worst)} "
            f"at these n: with {m} tests it could never reach {a:.2g}. The t tests used here have no such floor."
        )
    return lines


def _power_warnings(family: Mapping[str, Any], questions: list[dict[str, Any]], metric: str) -> list[str]:
    target = family.get("target_difference")
    if not finite(target):
        return []
    weak = [
        q
        for q in questions
        if finite(q.get("power_at_target")) and float(q["power_at_target"]) < float(family.get("power") or 0.8)
    ]
    if not weak:
        return []
    needed = [int(q["n_needed"]) for q in weak if finite(q.get("n_needed"))]
    need = ""
    if needed:
        lo, hi = min(needed), max(needed)
        need = f"; they would need about {lo if lo == hi else f'{lo} to {hi}'} subjects (or cases) per group"
    return [
        f"This run cannot detect a {fmt_num(target)} {metric} difference with {float(family.get('power') or 0.8):.0%} "
        f"power in {len(weak)} of {len(questions) - sum(1 for q in questions if q.get('p_value') is None)} primary "
        f"test(s) (n = {family.get('n_id_units')} ID subject(s)){need}."
    ]


def _reliability_notes(run: RunView) -> list[str]:
    """Small samples, clustering and failed fits, counted over the run's intervals and tests."""
    notes: list[str] = []
    keys = ("primary", "cells", "id_vs_ood", "model_vs_model")
    recs = [r for k in keys for r in run.records(k) if isinstance(r, dict)]
    small = sum(1 for r in recs if r.get("small_sample") is True)
    if small:
        notes.append(
            f"Small samples: {small} interval(s) or test(s) rest on fewer than 10 independent units (flagged "
            "small n); their coverage can fall below the nominal level (docs/statistics.md), and cells of fewer "
            "than 3 units have no interval."
        )
    clustered = sum(1 for r in recs if r.get("clustered") is True)
    if clustered:
        notes.append(
            f"Clustering: in {clustered} interval(s) or test(s) a subject contributed several rows (repeated cases "
            "or pooled conditions); subjects, not cases, were resampled and tested as the units."
        )
    for fit in run.records("mixed_effects", "fit"):
        if fit.get("accepted") is False:
            reasons = "; ".join(f"{a.get('formula')}: {a.get('reason')}" for a in fit.get("attempts") or [])
            notes.append(
                f"The mixed model of {fit.get('metric')} failed: no model the data support could be fitted "
                f"({reasons}). Its family effects are estimates only, with no interval or test."
            )
        elif fit.get("simplified"):
            notes.append(
                f"The mixed model of {fit.get('metric')} was simplified to {fit.get('formula')}: "
                f"{fit.get('full_formula')} could not be fitted reliably ({fit.get('note', '')})."
            )
    return notes
