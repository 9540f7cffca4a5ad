"""Section 1, the verdict: the primary questions, the best model in and out of distribution, the most robust
one, the human baseline, model families and the checks."""

from __future__ import annotations

__all__ = ["build"]

from typing import Any

import pandas as pd

from robusteval.report.compare import (
    comparison,
    first_row,
    ood_cells,
    pair_record,
    pooled,
    pooled_comparison,
    term_row,
)
from robusteval.report.fmt import (
    finite,
    fmt_ci,
    fmt_num,
)
from robusteval.report.sections.primary import primary_verdict
from robusteval.report.view import RunView, id_means
from robusteval.rundir import HUMAN_FAMILY
from robusteval.status import CheckStatus


def _item(label: str, model: str, run: RunView, **fields: Any) -> dict[str, Any]:
    """A verdict card: every key the template reads, with defaults."""
    base: dict[str, Any] = {
        "label": label,
        "model": model,
        "family": run.family_of(model),
        "human": model in run.human,
        "value": "n/a",
        "ci": None,
        "basis": "",
        "comparisons": [],
        "tally": None,
        "details": [],
    }
    return {**base, **fields}


def build(run: RunView) -> dict[str, Any]:
    h = run.headline
    sign = run.sign(h)
    out: dict[str, Any] = {"metric": h, "direction": run.direction(h), "items": [], "missing": None}
    out["primary"] = primary_verdict(run)
    id_cells = id_means(run, h)
    if not id_cells:
        out["missing"] = f"No successful in-distribution results for {h}: no verdict."
    ranked = [m for m in run.models if m in id_cells and m not in run.human]
    if ranked:
        best = ranked[0]
        c = id_cells[best]
        id_clean = {"condition": "clean", "split": "id"}
        others = ranked[1:2] + [m for m in run.models if m in run.human and m in id_cells]
        comps = [comparison(run, pair_record(run, h, id_clean, best, other), h) for other in others]
        out["items"].append(
            _item(
                "Best in distribution",
                best,
                run,
                value=fmt_num(c["mean"]),
                ci=fmt_ci(c.get("ci_low"), c.get("ci_high")),
                basis=f"mean {h} on the ID clean test cases (n = {c.get('n')})",
                comparisons=[x for x in comps if x],
                details=[] if len(ranked) > 1 else ["Only one model: no other model to compare."],
            )
        )
    out["items"].extend(_human_verdict(run, id_cells))
    ood = _ood_verdict(run)
    if ood is not None:
        out["items"].append(ood)
    robust = _robust_verdict(run)
    if robust is not None:
        out["items"].append(robust)
    out["family"] = _family_verdict(run, id_cells, sign)
    out["checks"] = [
        {
            "status": CheckStatus.of(r.get("status")),
            "check": r.get("check", ""),
            "model": r.get("model") or "all",
            "message": r.get("message", ""),
        }
        for r in run.records("checks")
    ]
    out["checks_missing"] = None if out["checks"] else "This protocol declares no checks."
    counts = {s.value: sum(c["status"] is s for c in out["checks"]) for s in CheckStatus}
    out["check_counts"] = {k: v for k, v in counts.items() if v}
    return out


def _human_verdict(run: RunView, id_cells: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One card per human baseline: its ID clean mean, the ceiling the models are read against."""
    h = run.headline
    cards = []
    for model in (m for m in run.models if m in run.human and m in id_cells):
        c = id_cells[model]
        details = [
            "The ceiling a network cannot meaningfully beat: two human raters agree this well. It is shown "
            "beside the models, not ranked among them."
        ]
        for r in run.records("cells", metric=h, model=model, shift="clean", split="ood", site=None):
            if finite(r.get("mean")):
                details.append(
                    f"{run.label('clean', 0, 'ood')}: {fmt_num(r['mean'])} {fmt_ci(r.get('ci_low'), r.get('ci_high'))} "
                    f"(n = {r.get('n')})."
                )
        cards.append(
            _item(
                "Human baseline (ceiling)",
                model,
                run,
                value=fmt_num(c["mean"]),
                ci=fmt_ci(c.get("ci_low"), c.get("ci_high")),
                basis=f"mean {h} of annotation {run.human[model]!r} against the reference label on the ID clean "
                f"test cases (n = {c.get('n')}): rater 2 vs rater 1, scored as a model is",
                details=details,
            )
        )
    return cards


def _ood_verdict(run: RunView) -> dict[str, Any] | None:
    h = run.headline
    sign = run.sign(h)
    ood = ood_cells(run, h)
    ood = ood[~ood["model"].isin(list(run.human))] if not ood.empty else ood  # the models' verdict
    if ood.empty:
        return None
    ood = ood.assign(_label=[run.label(r["shift"], r["severity"], r["split"]) for _, r in ood.iterrows()])
    per_model = {str(m): set(g["_label"]) for m, g in ood.groupby("model")}
    common = set.intersection(*per_model.values()) if per_model else set()
    conds = sorted(common, key=lambda lab: run.order_key(first_row(ood[ood["_label"] == lab])))
    if not conds:
        return None
    part = ood[ood["_label"].isin(common)]
    means = part.groupby("model")["mean"].mean()
    ranked = sorted(means.index.astype(str), key=lambda m: (-sign * float(means[m]), m))
    best = ranked[0]
    details = []
    if len(common) < max(len(v) for v in per_model.values()):
        details.append("Only the OOD conditions every model has are averaged.")
    best_cells = part[part["model"] == best]
    worst = best_cells.loc[(sign * best_cells["mean"]).idxmin()]
    details.append(
        f"Worst OOD condition for {best}: {run.label(worst['shift'], worst['severity'], worst['split'])} "
        f"{fmt_num(worst['mean'])} {fmt_ci(worst['ci_low'], worst['ci_high'])}."
    )
    site_cell = part[(part["model"] == best) & (part["shift"] == "clean")]
    if not site_cell.empty and worst["shift"] != "clean":
        s = site_cell.iloc[0]
        details.append(
            f"Natural site shift ({run.label('clean', 0, 'ood')}): {fmt_num(s['mean'])} "
            f"{fmt_ci(s['ci_low'], s['ci_high'])}."
        )
    comp = None
    tally = None
    if len(ranked) == 1:
        details.insert(0, "Only one model: nothing to compare.")
    else:
        other = ranked[1]
        n_better = n_sig = n_worse_sig = n_tested = 0
        for lab in conds:
            rec = first_row(part[part["_label"] == lab])
            pair = pair_record(run, h, {"condition": rec["condition"], "split": rec["split"]}, best, other)
            if pair is None or not finite(pair.get("diff")):
                continue
            n_tested += 1
            better = sign * float(pair["diff"]) > 0
            n_better += better
            n_sig += bool(better and pair.get("significant") is True)
            n_worse_sig += bool(not better and pair.get("significant") is True)
        tally = {
            "other": other,
            "n": n_tested,
            "better": n_better,
            "significant": n_sig,
            "worse_significant": n_worse_sig,
            "diff": fmt_num(float(means[best]) - float(means[other])),
        }
        if site_cell.shape[0]:
            comp = comparison(run, pair_record(run, h, {"condition": "clean", "split": "ood"}, best, other), h)
            if comp is not None:
                comp["where"] = run.label("clean", 0, "ood")
    comparisons = [comp] if comp else []
    value, ci = fmt_num(means[best]), None
    by_model = pooled(run, "ood_mean")
    if best in by_model:
        p = by_model[best]
        ci = fmt_ci(p.get("ci_low"), p.get("ci_high"))
        details.append(
            f"Interval: case bootstrap of each ID case's mean {h} over the {p.get('n_conditions')} simulated "
            f"shift condition(s) (n = {p.get('n')} cases with all of them): {fmt_num(p['estimate'])} {ci}."
        )
        if len(ranked) > 1:
            pc = pooled_comparison(run, "ood_mean", best, ranked[1], lower_is_better=False)
            if pc is not None:
                comparisons.insert(0, pc)
    return _item(
        "Best out of distribution",
        best,
        run,
        value=value,
        ci=ci if best in by_model and abs(float(by_model[best]["estimate"]) - float(means[best])) < 1e-9 else None,
        basis=f"mean {h} over {len(conds)} OOD condition(s), each weighted equally "
        f"({', '.join(conds[:6])}{', ...' if len(conds) > 6 else ''})",
        comparisons=comparisons,
        tally=tally,
        details=details,
    )


def _robust_verdict(run: RunView) -> dict[str, Any] | None:
    h = run.headline
    rood = run.records("robustness", "rood", metric=h, shift="mean")
    rood = [r for r in rood if finite(r.get("degradation")) and r.get("model") not in run.human]
    ivo = [r for r in run.records("id_vs_ood", metric=h) if r.get("model") not in run.human]
    comparisons: list[dict[str, Any]] = []
    interval_note = ""
    by_model = pooled(run, "degradation")
    if rood:
        ranked = sorted(rood, key=lambda r: (float(r["degradation"]), str(r["model"])))
        best = ranked[0]
        basis = (
            f"ROOD-MRI degradation of {h} (severity-weighted mean of clean - shifted, over "
            f"{best.get('n_shifts', '?')} simulated shift(s); + = worse)"
        )
        value, ci = fmt_num(best["degradation"]), None
        others = [f"{r['model']} {fmt_num(r['degradation'])}" for r in ranked[1:]]
        p = by_model.get(str(best["model"]))
        if p is not None:
            same = abs(float(p["estimate"]) - float(best["degradation"])) < 1e-9
            ci = fmt_ci(p.get("ci_low"), p.get("ci_high")) if same else None
            interval_note = (
                f"Interval: case bootstrap of each ID case's own degradation (n = {p.get('n')} cases with every "
                f"shift): {fmt_num(p['estimate'])} {fmt_ci(p.get('ci_low'), p.get('ci_high'))}."
            )
            if len(ranked) > 1:
                pc = pooled_comparison(run, "degradation", str(best["model"]), str(ranked[1]["model"]), True)
                if pc is not None:
                    comparisons.append(pc)
    else:
        site = [r for r in ivo if r.get("kind") == "site" and finite(r.get("degradation"))]
        site_pooled = [r for r in site if r.get("site") is None] or site
        if not site_pooled:
            return None
        ranked = sorted(site_pooled, key=lambda r: (float(r["degradation"]), str(r["model"])))
        best = ranked[0]
        basis = f"drop of mean {h} from ID clean to {run.label_of(best)} (+ = worse)"
        value = fmt_num(best["degradation"])
        ci = None
        if finite(best.get("ci_low")) and finite(best.get("ci_high")):
            bounds = sorted((-run.sign(h) * float(best["ci_high"]), -run.sign(h) * float(best["ci_low"])))
            ci = fmt_ci(bounds[0], bounds[1])
        others = [f"{r['model']} {fmt_num(r['degradation'])}" for r in ranked[1:]]
    model = str(best["model"])
    details = [] if others else ["Only one model: nothing to compare."]
    if interval_note:
        details.append(interval_note)
    if others:
        details.append(
            "Others: "
            + ", ".join(others)
            + "."
            + ("" if comparisons else " Differences in degradation are not tested (no per-case degradation).")
        )
    for r in ranked[:2]:
        recs = [x for x in ivo if x.get("model") == r["model"] and x.get("p_adjusted") is not None]
        n_sig = sum(
            1
            for x in recs
            if x.get("significant") is True and finite(x.get("degradation")) and float(x["degradation"]) > 0
        )
        if recs:
            details.append(
                f"{r['model']}: significant drop in {n_sig} of {len(recs)} ID-vs-OOD comparison(s) "
                f"({recs[0].get('correction') or run.correction}-adjusted)."
            )
    label = "Most robust (smallest degradation)"
    return _item(label, model, run, value=value, ci=ci, basis=basis, details=details, comparisons=comparisons)


def _family_verdict(run: RunView, id_cells: dict[str, dict[str, Any]], sign: float) -> dict[str, Any]:
    """The best member of each model family ID and OOD, the mixed model's family effects, and the human
    baseline as the last row (its ID mean: the ceiling; it is no model family)."""
    fams = sorted(set(run.families.values()) - {HUMAN_FAMILY})
    out: dict[str, Any] = {"families": fams, "rows": [], "terms": [], "note": None, "fit": None}
    if len(fams) < 2:
        out["note"] = (
            f"Only one model family ({', '.join(fams) or 'none'}) in this run: it cannot answer "
            "\u201cViT or CNN?\u201d."
        )
    ood = ood_cells(run, run.headline)
    ood_means = ood.groupby("model")["mean"].mean() if not ood.empty else pd.Series(dtype=float)
    for fam in fams:
        members = [m for m in run.models if run.families.get(m) == fam]
        best_id = next((m for m in members if m in id_cells), None)
        ood_members = [m for m in members if m in ood_means.index]
        best_ood = min(ood_members, key=lambda m: -sign * float(ood_means[m])) if ood_members else None
        out["rows"].append(
            {
                "family": fam,
                "models": ", ".join(members),
                "best_id": best_id,
                "best_id_value": fmt_num(id_cells[best_id]["mean"]) if best_id else "n/a",
                "best_ood": best_ood,
                "best_ood_value": fmt_num(ood_means[best_ood]) if best_ood else "n/a",
                "human": False,
            }
        )
    for model in (m for m in run.models if m in run.human):
        out["rows"].append(
            {
                "family": f"human baseline ({run.human[model]} vs the reference)",
                "models": model,
                "best_id": model if model in id_cells else None,
                "best_id_value": fmt_num(id_cells[model]["mean"]) if model in id_cells else "n/a",
                "best_ood": None,
                "best_ood_value": "n/a",
                "human": True,
            }
        )
    mixed = run.records("mixed_effects", metric=run.headline)
    fit = next((r for r in mixed if r.get("kind") == "fit"), None)
    skipped = next((r for r in mixed if r.get("kind") == "skipped"), None)
    if fit is not None and fit.get("accepted") is False:
        out["note"] = (
            f"Mixed model failed: no model the data support could be fitted ({fit.get('note', '')}); its family "
            "effects are not reported."
        )
    elif fit is not None:
        out["fit"] = {
            "formula": fit.get("formula", ""),
            "converged": fit.get("converged"),
            "note": fit.get("note", ""),
        }
        for r in mixed:
            term = str(r.get("term", ""))
            if r.get("kind") == "coefficient" and term.startswith("family[") and ":" not in term:
                out["terms"].append(term_row(run, r))
        named = {str(t["term"]) for t in out["terms"]}
        refs = [f for f in fams if f"family[T.{f}]" not in named]
        out["fit"]["reference"] = refs[0] if len(refs) == 1 else "the reference family"
    elif skipped is not None and len(fams) >= 2:
        out["note"] = f"Mixed model not fitted: {skipped.get('note', '')}"
    return out
