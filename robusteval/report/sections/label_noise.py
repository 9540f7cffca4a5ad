"""Section 7, label noise: how the scores and the conclusions move under a perturbed reference."""

from __future__ import annotations

__all__ = ["build"]

from typing import Any

import pandas as pd

from robusteval.conditions import ConditionKey
from robusteval.report import figures as F
from robusteval.report.compare import (
    pair_record,
)
from robusteval.report.embed import figure
from robusteval.report.fmt import (
    finite,
    fmt_ci,
    fmt_num,
    fmt_rank,
)
from robusteval.report.view import RunView


def build(run: RunView) -> dict[str, Any]:
    h = run.headline
    out: dict[str, Any] = {"figures": [], "rankings": [], "pairs": [], "diffs": [], "missing": None}
    noise_rows = run.cases[run.cases["shift_family"] == "label_noise"] if len(run.cases) else run.cases
    moves = run.records("robustness", "label_noise_mean", metric=h)
    if noise_rows.empty and not moves:
        out["missing"] = (
            "This run has no label-noise conditions (shift family label_noise), so the sensitivity of "
            "the conclusions to reference-label noise is not measured."
        )
        return out
    if not moves:
        out["missing"] = f"Label-noise rows are present but no label-noise statistics were recorded for {h}."
        return out
    taus = run.records("robustness", "label_noise_ranking", metric=h)
    fig = figure(
        run,
        F.label_noise_figure,
        (pd.DataFrame(moves), pd.DataFrame(taus), h, run.models, run.human),
        f"{h} scored against perturbed reference labels: score moves per model, and Kendall's tau between "
        "the rankings under the clean and the noisy reference",
    )
    if fig:
        out["figures"].append(fig)
    for t in sorted(taus, key=lambda r: ConditionKey.sort_key_of(str(r.get("noise")))):
        models = [m for m in run.models if f"rank_clean_reference:{m}" in t]
        out["rankings"].append(
            {
                "noise": t.get("noise"),
                "tau": fmt_num(t.get("kendall_tau")),
                "note": t.get("note", ""),
                "ranks": [
                    {
                        "model": m,
                        "clean": fmt_rank(t.get(f"rank_clean_reference:{m}")),
                        "noisy": fmt_rank(t.get(f"rank_noisy_reference:{m}")),
                        "moved": t.get(f"rank_clean_reference:{m}") != t.get(f"rank_noisy_reference:{m}"),
                    }
                    for m in models
                ],
            }
        )
    noises = sorted({str(r.get("noise")) for r in moves}, key=ConditionKey.sort_key_of)
    for i, a in enumerate(run.models):
        for b in run.models[i + 1 :]:
            base = pair_record(run, h, {"condition": "clean", "split": "id"}, a, b)
            if base is None:
                continue
            for noise in noises:
                noisy = next(
                    (
                        p
                        for split in ("ood", "id")
                        if (p := pair_record(run, h, {"condition": noise, "split": split}, a, b)) is not None
                    ),
                    None,
                )
                if noisy is None:
                    continue
                sig_a, sig_b = base.get("significant") is True, noisy.get("significant") is True
                flipped = (
                    finite(base.get("diff"))
                    and finite(noisy.get("diff"))
                    and (float(base["diff"]) > 0) != (float(noisy["diff"]) > 0)
                )
                changed = sig_a != sig_b or (sig_a and sig_b and flipped)
                out["pairs"].append(
                    {
                        "pair": f"{run.name(a)} - {run.name(b)}",
                        "noise": noise,
                        "clean": fmt_num(base.get("diff")),
                        "clean_ci": fmt_ci(base.get("ci_low"), base.get("ci_high")),
                        "clean_sig": base.get("significant"),
                        "noisy": fmt_num(noisy.get("diff")),
                        "noisy_ci": fmt_ci(noisy.get("ci_low"), noisy.get("ci_high")),
                        "noisy_sig": noisy.get("significant"),
                        "changed": bool(changed),
                    }
                )
    out["n_changed"] = sum(p["changed"] for p in out["pairs"])
    out["diffs"] = [
        {
            "model": r.get("model"),
            "noise": r.get("noise"),
            "condition": r.get("condition"),
            "clean": fmt_num(r.get("diff_clean_reference")),
            "noisy": fmt_num(r.get("diff_noisy_reference")),
            "move": fmt_num(r.get("move")),
        }
        for r in run.records("robustness", "label_noise_diff", metric=h)
    ]
    return out
