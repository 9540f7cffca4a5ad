"""Example overlays (``examples/*.png``): the worst and the median case, clean and shifted, and per model the
worst case a search found.

The condition drawn is the one where the models do worst on average (simulated shifts only; label noise
changes the reference, not the input); the cases are those with the worst and the median mean headline metric
under it. The shifted volume is rebuilt from the work item's seed, and a search's finding from its recorded
shift parameters, so each picture shows the volume that was evaluated.
"""

from __future__ import annotations

__all__ = ["choose_examples", "write_examples"]

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from robusteval.conditions import ConditionKey, param_text
from robusteval.data.case import Case
from robusteval.engine.base import EngineJob, load_models, torch_threads
from robusteval.engine.work import ModelRuntime, shift_item
from robusteval.errors import PredictionUnavailable
from robusteval.metrics import METRICS, compute_metrics
from robusteval.protocol import Protocol
from robusteval.rundir import example_png, search_example_png
from robusteval.shifts import Condition, apply_condition
from robusteval.status import OK
from robusteval.viz.overlays import OverlayRow, overlay_figure
from robusteval.viz.png import save_png

DPI = 100


def choose_examples(
    cases: pd.DataFrame, metric: str, higher_is_better: bool
) -> tuple[ConditionKey | None, list[tuple[str, str]]]:
    """``(worst condition, [("worst", case_id), ("median", case_id)])`` from ``cases.csv`` rows.

    The worst condition is the (shift, severity) of the simulated shifts (not label noise) with the worst mean
    ``metric`` over all models; None without shifts (the cases are then ranked on the clean ID rows). Cases
    are ranked by their mean ``metric`` over models in that condition; the median is the lower middle one."""
    ok = cases[(cases["status"] == OK) & cases[metric].notna()]
    sign = 1.0 if higher_is_better else -1.0
    shifted = ok[(ok["shift"] != "clean") & (ok["shift_family"] != "label_noise")]
    condition: ConditionKey | None = None
    if not shifted.empty:
        means = shifted.groupby(["shift", "severity"])[metric].mean() * sign
        shift, severity = means.sort_values(kind="stable").index[0]
        condition = ConditionKey(str(shift), int(severity))
        pool = shifted[(shifted["shift"] == shift) & (shifted["severity"] == severity)]
    else:
        pool = ok[(ok["shift"] == "clean") & (ok["split"] == "id")]
    if pool.empty:
        return condition, []
    per_case = (pool.groupby("case_id")[metric].mean() * sign).sort_values(kind="stable")
    ids = [str(i) for i in per_case.index]
    picks = [("worst", ids[0])]
    if len(ids) > 1:
        picks.append(("median", ids[(len(ids) - 1) // 2]))
    return condition, picks


def _masks(runtimes: Sequence[ModelRuntime], case: Case) -> dict[str, Any]:
    """Each model's predicted mask on ``case``; a model with none for its condition (unavailable) is left out."""
    masks = {}
    for rt in runtimes:
        try:
            masks[rt.name] = rt.adapter.predict(case).mask
        except PredictionUnavailable:
            continue
    return masks


def write_examples(
    out_dir: Path, protocol: Protocol, job: EngineJob, cases: pd.DataFrame, search: Mapping[str, Any] | None = None
) -> list[str]:
    """Write ``examples/worst_case.png`` and ``examples/median_case.png`` of the headline metric (and, after a
    worst-case search, ``examples/search_worst_<i>.png`` per model); return one note per picture not drawn.
    Never raises for a case or model that cannot be drawn: the note says why."""
    metric = protocol.report.headline_metric
    higher_is_better = bool(METRICS.get(metric).higher_is_better) if metric in METRICS else True
    condition, picks = choose_examples(cases, metric, higher_is_better)
    if not picks and not (search and search.get("worst_case")):
        return ["example overlays not drawn: no successful rows"]
    items = {i.key: i for i in job.plan.items}
    values = {
        (str(r["case_id"]), str(r["shift"]), int(r["severity"]), str(r["model"])): float(r[metric])
        for _, r in cases[cases["status"] == OK].iterrows()
        if pd.notna(r[metric])
    }
    notes: list[str] = []
    with torch_threads(job.threads):
        try:
            runtimes = load_models(job.models, job.base_dir, job.device)
        except Exception as exc:
            return [f"example overlays not drawn: a model failed to load ({type(exc).__name__}: {exc})"]
        for kind, case_id in picks:
            keys = [ConditionKey("clean")] + ([condition] if condition else [])
            try:
                rows = []
                for key in keys:
                    item = items[(case_id, key.shift, int(key.severity))]
                    shown, _ = shift_item(item.record.load(), item, job.plan.conditions)
                    masks = _masks(runtimes, shown)
                    row_values = {m: values.get((case_id, key.shift, int(key.severity), m), np.nan) for m in masks}
                    rows.append(OverlayRow(key.label, shown, masks, row_values))
                title = f"{kind} case {case_id}" + (f" under {condition.label}" if condition else "")
                save_png(overlay_figure(rows, metric, title), out_dir / example_png(kind), DPI)
            except Exception as exc:  # a picture is never worth failing the run
                notes.append(f"{kind}-case example ({case_id}) not drawn: {type(exc).__name__}: {exc}")
        if search and protocol.search is not None:
            notes += _search_examples(out_dir, protocol, job, search, runtimes, metric)
    return notes


def _search_examples(
    out_dir: Path,
    protocol: Protocol,
    job: EngineJob,
    search: Mapping[str, Any],
    runtimes: Sequence[ModelRuntime],
    metric: str,
) -> list[str]:
    """Per model, the worst-case search's most damaging parameters on its worst case (replayed from the
    recorded shift parameters), against the clean case."""
    spec = protocol.search.worst_case if protocol.search is not None else None
    if spec is None:
        return []
    replay = Condition.build("replay", [(d.shift, dict(d.options), None) for d in spec.space])
    records = {i.record.case_id: i.record for i in job.plan.items}
    by_name = {rt.name: rt for rt in runtimes}
    notes = []
    for index, entry in enumerate(search.get("worst_case") or []):
        model = str(entry.get("model"))
        per_case = [r for r in entry.get("per_case") or [] if r.get("score") is not None]
        per_case = [r for r in per_case if r.get("shift_params") is not None]
        if not per_case or model not in by_name:
            notes.append(f"search worst-case example for {model} not drawn: no completed case with parameters")
            continue
        worst = min(per_case, key=lambda r: float(r["score"]) * (1.0 if entry.get("lower_is_worse", True) else -1.0))
        try:
            case = records[str(worst["case_id"])].load()
            shifted = apply_condition(case, replay, worst["shift_params"])
            rt = by_name[model]
            rows = []
            for label, shown in (("clean", case), ("worst case found", shifted)):
                mask = rt.adapter.predict(shown).mask
                scores, _ = compute_metrics([metric], mask, shown.label, shown.spacing_mm, ignore=shown.ignore,
                                            config=job.metric_config)  # fmt: skip
                rows.append(OverlayRow(label, shown, {model: mask}, {model: float(scores[metric])}))
            params = "; ".join(param_text(p) for p in entry.get("params") or [])
            title = f"{model}: worst case found on {worst['case_id']} ({params})"
            save_png(overlay_figure(rows, metric, title), out_dir / search_example_png(index), DPI)
        except Exception as exc:
            notes.append(f"search worst-case example for {model} not drawn: {type(exc).__name__}: {exc}")
    return notes
