"""Run dirs for the report tests: cases.csv and summary.json written as ``robusteval.run`` writes them."""

from __future__ import annotations

__all__ = [
    "PAYLOADS",
    "SIZE_METRICS",
    "minimal_cases",
    "payload_cases",
    "rich_cases",
    "write_png",
    "write_run",
]

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robusteval.rundir import RESULT_COLUMNS
from robusteval.serialize import json_safe
from robusteval.stats import StatsSettings, summarize
from robusteval.stats.synthetic import make_cases
from robusteval.status import status_counts

SIZE_METRICS = ("lesion_recall_small", "lesion_recall_medium", "lesion_recall_large")
PAYLOADS = {
    "model": "<script>window.__pwned = 1</script>",
    "case": '<img src=x onerror="window.__pwned = 2">',
    "site": '"><svg onload="window.__pwned = 3">',
    "shift": "<b onmouseover=alert(4)>blur</b>",
}


def write_run(
    out: Path,
    cases: pd.DataFrame,
    metrics: Sequence[str],
    *,
    name: str = "fixture",
    settings: StatsSettings | None = None,
    worst_values: Mapping[str, float] | None = None,
    models: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``out/cases.csv`` and ``out/summary.json`` (the run.py layout) for ``cases``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    settings = settings or StatsSettings(n_resamples=500)
    for col in RESULT_COLUMNS:
        if col not in cases:
            cases[col] = ""
    cases = cases[[*RESULT_COLUMNS, *metrics]]
    cases.to_csv(out / "cases.csv", index=False)
    stats = summarize(cases, list(metrics), settings, worst_values=worst_values)
    fam = dict(zip(cases["model"], cases["family"], strict=True))
    summary: dict[str, Any] = {
        "protocol": {
            "name": name,
            "description": "fixture run for the report tests",
            "seed": 0,
            "dataset": {"source": "synthetic", "params": {}, "split": {}},
            "models": [{"name": m, "family": f, "adapter": "zoo", "params": {}} for m, f in fam.items()],
            "shifts": [],
            "metrics": {"panel": list(metrics)},
            "statistics": {
                "confidence_level": settings.confidence_level,
                "n_resamples": settings.n_resamples,
            },
            "report": {"headline_metric": settings.headline_metric},
        },
        "provenance": {
            "protocol_file": "fixture.yaml",
            "protocol_sha256": "0" * 64,
            "packages": {"robusteval": "0.1.0"},
            "seeds": {"protocol": 0, "bootstrap": 0},
            "engine": "local",
            "machine": {"platform": "test", "processor": "", "cpus": 2},
            "git_commit": None,
            "start_time": "2026-01-01T00:00:00+00:00",
            "end_time": "2026-01-01T00:01:00+00:00",
            "timings_s": {"engine": 1.0, "total": 2.0},
            "inference_s_median": {m: 0.1 * (i + 1) for i, m in enumerate(fam)},
        },
        "dataset": {
            "listed": int(cases["case_id"].nunique()),
            "excluded_by_split": [],
            "failed_cases": sorted(set(cases.loc[cases["status"] == "failed", "case_id"])),
        },
        "counts": status_counts(cases["status"]),
        **stats,
    }
    if models is not None:
        summary["models"] = models
    (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2) + "\n")
    return out


def rich_cases(seed: int = 1, severities: Sequence[int] = (1, 3, 5)) -> pd.DataFrame:
    """Four models of three families, two OOD sites, two shifts, label noise at each severity, failures."""
    cases = make_cases(
        models={"unet": "cnn", "resunet": "cnn", "unetr": "vit", "swinunetr": "hybrid"},
        n_id=8,
        ood_sites={"B": 6, "C": 6},
        shifts={"motion": "artifact", "bias": "scanner"},
        severities=severities,
        label_noise=("label_erode",),
        extra_metrics=SIZE_METRICS,
        fail_rate=0.02,
        hd95_nan_rate=0.02,
        seed=seed,
    )
    cases.loc[cases["status"] == "failed", "error"] = "CaseError: flair: truncated gzip stream"
    return cases


def minimal_cases() -> pd.DataFrame:
    """One model, four ID cases, no OOD condition."""
    return make_cases(models={"unet": "cnn"}, n_id=4, ood_sites={}, shifts={}, severities=(), seed=0)


def payload_cases() -> pd.DataFrame:
    """A small table whose model, case, site and shift names are HTML/JS injection payloads."""
    cases = make_cases(
        models={PAYLOADS["model"]: "cnn", "vit-b": "vit"},
        n_id=5,
        ood_sites={PAYLOADS["site"]: 4},
        shifts={PAYLOADS["shift"]: "artifact"},
        severities=(1, 2),
        seed=3,
    )
    first = cases["split"] == "id"
    victim = cases.loc[first, "case_id"].iloc[0]
    cases.loc[cases["case_id"] == victim, "case_id"] = PAYLOADS["case"]
    row = cases.index[cases["case_id"] == PAYLOADS["case"]][0]
    error = "<i>bad</i> " + PAYLOADS["case"]
    cases.loc[row, ["status", "error", "dsc", "hd95"]] = ["failed", error, np.nan, np.nan]
    return cases


def write_png(path: Path) -> None:
    """A small PNG (a line plot) at ``path``."""
    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=20)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
