"""Section 8, efficiency: parameters, FLOPs, latency, memory and energy against performance."""

from __future__ import annotations

__all__ = ["EFFICIENCY_FIELDS", "build"]

from typing import Any

import pandas as pd

from robusteval.report import figures as F
from robusteval.report.compare import (
    ood_cells,
)
from robusteval.report.embed import figure
from robusteval.report.fmt import (
    fmt_count,
    fmt_num,
)
from robusteval.report.view import RunView, id_means

EFFICIENCY_FIELDS = (
    ("parameters", "parameters", "count"),
    ("flops", "FLOPs / forward", "count"),
    ("flops_per_case", "FLOPs / case", "count"),
    ("latency_s", "latency (s)", "num"),
    ("peak_memory_mib", "peak memory (MiB)", "num"),
    ("peak_memory_mb", "peak memory (MB)", "num"),
    ("energy_j", "energy (J)", "num"),
    ("energy_kwh", "energy (kWh)", "num"),
    ("co2_g", "CO2-eq (g)", "num"),
)


def build(run: RunView) -> dict[str, Any]:
    h = run.headline
    out: dict[str, Any] = {"figures": [], "columns": [], "rows": [], "notes": [], "missing": None}
    prov = run.summary.get("provenance") or {}
    inference = prov.get("inference_s_median") or {}
    listed = [e for e in run.summary.get("models") or [] if isinstance(e, dict)]
    entries = {str(e.get("name") or e.get("model")): e for e in listed}
    if not entries:
        out["notes"].append(
            "Parameters, FLOPs, memory and energy are not recorded for this run (summary.json has "
            "no \u201cmodels\u201d entry); only the measured inference times are shown."
        )
    fields = [(k, lab, kind) for k, lab, kind in EFFICIENCY_FIELDS if any(k in e for e in entries.values())]
    out["columns"] = [lab for _, lab, _ in fields]
    id_cells = id_means(run, h)
    ood = ood_cells(run, h)
    ood_means = ood.groupby("model")["mean"].mean() if not ood.empty else pd.Series(dtype=float)
    perf = []
    reasons: dict[str, str] = {}
    for model in run.models + [m for m in entries if m not in run.models]:
        e = entries.get(model, {})
        values = []
        for key, _, kind in fields:
            v = e.get(key)
            method = str(e.get(f"{key}_method") or "")
            if v is None and method.startswith("not measured"):
                reasons[f"{model}: {key}"] = method
            values.append({"text": fmt_count(v) if kind == "count" else fmt_num(v), "title": method})
        c = id_cells.get(model, {})
        out["rows"].append(
            {
                "model": model,
                "family": run.family_of(model) if model in run.families else e.get("family") or "?",
                "values": values,
                "inference": "n/a" if model in run.human else fmt_num(inference.get(model)),
                "id_mean": fmt_num(c.get("mean")),
                "ood_mean": fmt_num(ood_means[model]) if model in ood_means.index else "n/a",
            }
        )
        perf.append(
            {
                "model": model,
                "family": run.families.get(model) or e.get("family") or "?",
                "parameters": e.get("parameters"),
                "id_mean": c.get("mean"),
                "id_low": c.get("ci_low"),
                "id_high": c.get("ci_high"),
                "ood_mean": float(ood_means[model]) if model in ood_means.index else None,
            }
        )
    out["reasons"] = [f"{k}: {v}" for k, v in reasons.items()]
    fig = figure(
        run,
        F.efficiency_figure,
        (pd.DataFrame(perf), h),
        f"{h} against parameter count: ID clean mean with {run.level:.0%} CI (filled) and mean over OOD "
        "conditions (hollow)",
    )
    if fig:
        out["figures"].append(fig)
    elif entries:
        out["notes"].append("No model has a parameter count: no performance-against-size plot.")
    return out
