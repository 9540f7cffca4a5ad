"""Section 8, efficiency: parameters, FLOPs, latency, memory, energy and CO2 against performance."""

from __future__ import annotations

__all__ = ["EFFICIENCY_FIELDS", "build", "energy_source"]

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
    ("energy_kwh_per_1000", "energy / 1,000 cases (kWh)", "num"),
    ("co2_g_per_1000", "CO2-eq / 1,000 cases (g)", "num"),
)


def energy_source(method: str) -> str:
    """A short label of how a profile's energy was obtained, from its method string."""
    if not method:
        return "n/a"
    if method.startswith("codecarbon"):
        return "codecarbon"
    if method.startswith("measured"):
        meters = [m for m in ("RAPL", "NVML") if m in method]
        return f"measured ({' + '.join(meters)})" if meters else "measured"
    if method.startswith("estimated"):
        return "estimated (power model)"
    return "not measured" if method.startswith("not ") else "n/a"


def build(run: RunView) -> dict[str, Any]:
    h = run.headline
    out: dict[str, Any] = {"figures": [], "columns": [], "rows": [], "notes": [], "missing": None}
    prov = run.summary.get("provenance") or {}
    inference = prov.get("inference_s_median") or {}
    entries = run.profiles()
    if not entries:
        out["notes"].append(
            "Parameters, FLOPs, memory and energy are not recorded for this run (summary.json has "
            "no \u201cmodels\u201d entry); only the measured inference times are shown."
        )
    fields = [(k, lab, kind) for k, lab, kind in EFFICIENCY_FIELDS if any(k in e for e in entries.values())]
    out["columns"] = [lab for _, lab, _ in fields]
    has_energy = any("energy_j_method" in e for e in entries.values())
    if has_energy:
        out["columns"].append("energy method")
    out["energy_methods"] = []
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
        if has_energy:
            method = str(e.get("energy_j_method") or "")
            values.append({"text": energy_source(method), "title": method})
            if method and model not in run.human:
                out["energy_methods"].append(f"{model}: {method}")
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
                "co2_g_per_1000": e.get("co2_g_per_1000"),
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
    co2 = figure(
        run,
        F.co2_figure,
        (pd.DataFrame(perf), h),
        f"{h} against g CO2eq per 1,000 cases (energy and CO2 method per model below the table): ID clean "
        f"mean with {run.level:.0%} CI (filled) and mean over OOD conditions (hollow)",
    )
    if co2:
        out["figures"].append(co2)
    elif has_energy:
        out["notes"].append("No model has a CO2 figure: no performance-against-CO2 plot.")
    return out
