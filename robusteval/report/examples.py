"""Example overlays for the report (section 9): the worst and the median case, clean and shifted.

A run dir keeps metrics, not volumes, so a run draws these while it still has the data: the condition where
the models do worst on average (simulated shifts only; label noise changes the reference, not the input), the
case with the worst and the median mean headline metric under it, and for each, one slice (the one with most
lesion voxels) of the image with the reference outline (green) and each model's prediction (red fill), clean
and shifted. The shifted volume is rebuilt from the work item's seed, so it is the one the run evaluated.
"""

from __future__ import annotations

__all__ = ["EXAMPLES_DIR", "choose_examples", "example_figure", "param_text", "write_examples"]

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robusteval.data.case import Case
from robusteval.models.base import Prediction

if TYPE_CHECKING:
    from robusteval.engine.base import EngineJob
    from robusteval.engine.work import ModelRuntime
    from robusteval.protocol import Protocol

EXAMPLES_DIR = "examples"
REF_COLOUR = "#2dd36f"


def choose_examples(
    cases: pd.DataFrame, metric: str, higher_is_better: bool
) -> tuple[tuple[str, int] | None, list[tuple[str, str]]]:
    """``(worst condition, [("worst", case_id), ("median", case_id)])`` from ``cases.csv`` rows.

    The worst condition is the (shift, severity) of the simulated shifts (not label noise) with the worst mean
    ``metric`` over all models; None without shifts (the cases are then ranked on the clean ID rows). Cases
    are ranked by their mean ``metric`` over models in that condition; the median is the lower middle one."""
    ok = cases[(cases["status"] == "ok") & cases[metric].notna()]
    sign = 1.0 if higher_is_better else -1.0
    shifted = ok[(ok["shift"] != "clean") & (ok["shift_family"] != "label_noise")]
    condition: tuple[str, int] | None = None
    if not shifted.empty:
        means = shifted.groupby(["shift", "severity"])[metric].mean() * sign
        shift, severity = means.sort_values(kind="stable").index[0]
        condition = (str(shift), int(severity))
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


def example_figure(
    rows: Sequence[tuple[str, Case, dict[str, Prediction], dict[str, float]]], metric: str, title: str
) -> Figure:
    """One row per (label, case, predictions per model, metric value per model): the image with the reference
    outline, then one panel per model with its prediction. The slice is chosen on the first row's case and
    taken at the same fraction of axis 2 in every row (a shift may change the grid). A model without a
    prediction in a row (unavailable there, e.g. the human baseline under a shift) gets the bare image."""
    from robusteval.commands.shifts import display_modality, draw_slice, slice_fraction

    models = list(dict.fromkeys(m for row in rows for m in row[2]))
    frac = slice_fraction(rows[0][1])
    fig = Figure(figsize=(2.2 * (1 + len(models)), 2.35 * len(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(rows), 1 + len(models), squeeze=False)
    for r, (label, case, preds, values) in enumerate(rows):
        modality = display_modality(case)
        draw_slice(axes[r][0], case, modality, frac, outline=REF_COLOUR)
        axes[r][0].set_title(f"{label}: image + reference", fontsize=8)
        for c, model in enumerate(models, start=1):
            pred = preds.get(model)
            draw_slice(axes[r][c], case, modality, frac, mask=None if pred is None else pred.mask, outline=REF_COLOUR)
            v = values.get(model, float("nan"))
            heading = f"{model}: {metric} {v:.3f}" if pred is not None else f"{model}: unavailable"
            axes[r][c].set_title(heading, fontsize=8)
    fig.suptitle("\n".join(textwrap.wrap(title, int(fig.get_figwidth() * 13))), fontsize=9)
    return fig


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def write_examples(
    out_dir: Path,
    job: EngineJob,
    cases: pd.DataFrame,
    metric: str,
    higher_is_better: bool,
    search: dict[str, Any] | None = None,
    protocol: Protocol | None = None,
) -> list[str]:
    """Write ``examples/worst_case.png`` and ``examples/median_case.png`` (and, after a worst-case search,
    ``examples/search_worst_<i>.png`` per model); return one note per picture not drawn. Never raises for
    a case or model that cannot be drawn: the note says why."""
    from robusteval.engine.base import load_models, torch_threads
    from robusteval.engine.work import shift_item

    notes: list[str] = []
    condition, picks = choose_examples(cases, metric, higher_is_better)
    if not picks and not (search and search.get("worst_case")):
        return ["example overlays not drawn: no successful rows"]
    items = {i.key: i for i in job.plan.items}
    values = {
        (str(r["case_id"]), str(r["shift"]), int(r["severity"]), str(r["model"])): float(r[metric])
        for _, r in cases[cases["status"] == "ok"].iterrows()
        if pd.notna(r[metric])
    }
    with torch_threads(job.threads):
        try:
            runtimes = load_models(job.models, job.base_dir, job.device)
        except Exception as exc:
            return [f"example overlays not drawn: a model failed to load ({type(exc).__name__}: {exc})"]
        for kind, case_id in picks:
            keys = [(case_id, "clean", 0)] + ([(case_id, condition[0], condition[1])] if condition else [])
            try:
                rows = []
                for key in keys:
                    item = items[key]
                    shown, _ = shift_item(item.record.load(), item, job.plan.conditions)
                    preds = _predictions(runtimes, shown)
                    label = "clean" if key[1] == "clean" else f"{key[1]}@{key[2]}"
                    rows.append((label, shown, preds, {m: values.get((*key, m), np.nan) for m in preds}))
                title = f"{kind} case {case_id}" + (f" under {condition[0]}@{condition[1]}" if condition else "")
                _save(example_figure(rows, metric, title), out_dir / EXAMPLES_DIR / f"{kind}_case.png")
            except Exception as exc:  # a picture is never worth failing the run
                notes.append(f"{kind}-case example ({case_id}) not drawn: {type(exc).__name__}: {exc}")
        if search and protocol is not None and protocol.search is not None:
            notes += _search_examples(out_dir, job, search, protocol, runtimes, metric)
    return notes


def _predictions(runtimes: Sequence[ModelRuntime], case: Case) -> dict[str, Prediction]:
    """Each model's prediction on ``case``; a model with none for its condition (unavailable) is left out."""
    from robusteval.errors import PredictionUnavailable

    preds = {}
    for rt in runtimes:
        try:
            preds[rt.name] = rt.adapter.predict(case)
        except PredictionUnavailable:
            continue
    return preds


def param_text(param: Any) -> str:
    """One searched parameter as ``shift parameter=value`` (a worst-case record's ``params`` entry)."""
    if isinstance(param, dict) and {"shift", "parameter", "value"} <= set(param):
        value = param["value"]
        shown = f"{value:.3g}" if isinstance(value, int | float) else str(value)
        return f"{param['shift']} {param['parameter']}={shown}"
    return str(param)


def _search_examples(
    out_dir: Path,
    job: EngineJob,
    search: dict[str, Any],
    protocol: Protocol,
    runtimes: Sequence[ModelRuntime],
    metric: str,
) -> list[str]:
    """Per model, the worst-case search's most damaging parameters on its worst case (replayed from the
    recorded shift parameters), against the clean case."""
    from robusteval.metrics import compute_metrics
    from robusteval.search.runner import resolve_dimensions
    from robusteval.shifts import Condition, apply_condition

    spec = protocol.search.worst_case if protocol.search is not None else None
    if spec is None:
        return []
    dims = resolve_dimensions(spec.space)
    replay = Condition.build("replay", [(d.shift, d.options, None) for d in dims])
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
                pred = rt.adapter.predict(shown)
                values, _ = compute_metrics([metric], pred.mask, shown.label, shown.spacing_mm, ignore=shown.ignore,
                                            config=job.metric_config)  # fmt: skip
                rows.append((label, shown, {model: pred}, {model: float(values[metric])}))
            params = "; ".join(param_text(p) for p in entry.get("params") or [])
            title = f"{model}: worst case found on {worst['case_id']} ({params})"
            _save(example_figure(rows, metric, title), out_dir / EXAMPLES_DIR / f"search_worst_{index}.png")
        except Exception as exc:
            notes.append(f"search worst-case example for {model} not drawn: {type(exc).__name__}: {exc}")
    return notes
