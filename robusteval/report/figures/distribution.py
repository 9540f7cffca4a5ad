"""Per-case distributions: box and strip plots per model, clean cases by site and shifts by severity."""

from __future__ import annotations

__all__ = ["distribution_figure"]

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from robusteval.report.figures.style import (
    SEVERITY_COLUMN,
    grid,
    legend_below,
    model_label,
    model_palette,
    short,
    styled,
)


@styled
def distribution_figure(
    cases: pd.DataFrame, metric: str, models: Sequence[str], human: Collection[str] = ()
) -> Figure | None:
    """Box and strip plots of per-case ``metric`` per model: one panel for the clean cases by site, one per
    simulated shift by severity (failed rows and label-noise conditions left out; a ``human`` baseline, in
    grey, has the clean panel only)."""
    ok = cases[(cases["status"] == "ok") & (cases["shift_family"] != "label_noise")]
    ok = ok[pd.to_numeric(ok[metric], errors="coerce").notna()] if metric in ok else ok.iloc[0:0]
    if ok.empty:
        return None
    panels: list[tuple[str, pd.DataFrame, str, list[Any]]] = []
    clean = ok[ok["shift"] == "clean"]
    if not clean.empty:
        sites = zip(clean["site"], clean["split"], strict=True)
        key: list[str] = [f"{s} (ID)" if sp == "id" else str(s) for s, sp in sites]
        order: list[Any] = sorted(set(key), key=lambda k: (not k.endswith("(ID)"), k))
        panels.append(("clean cases by site", clean.assign(_x=key), "site", order))
    for shift in sorted(ok.loc[ok["shift"] != "clean", "shift"].unique()):
        part = ok[ok["shift"] == shift]
        sev = part[SEVERITY_COLUMN].astype(float)
        panels.append((str(shift), part.assign(_x=sev), "severity", sorted(set(sev))))
    palette = model_palette(models, human)
    present = [m for m in models if m in set(ok["model"])]
    fig, axes = grid(len(panels), 3, 3.7, 2.8, sharey=True)
    width = 0.8 / max(len(present), 1)
    rng = np.random.default_rng(0)
    for ax, (title, data, xlabel, order) in zip(axes, panels, strict=True):
        by_key = {(str(k[0]), k[1]): g.to_numpy(float) for k, g in data.groupby(["model", "_x"])[metric]}
        for mi, model in enumerate(present):
            offset = (mi - (len(present) - 1) / 2) * width
            groups = [by_key.get((model, x), np.empty(0)) for x in order]
            pos = [i + offset for i, g in enumerate(groups) if g.size]
            vals = [g for g in groups if g.size]
            if not vals:
                continue
            colour = palette[model]
            box = ax.boxplot(
                vals,
                positions=pos,
                widths=width * 0.85,
                patch_artist=True,
                showfliers=False,
                orientation="vertical",
                manage_ticks=False,
            )
            for patch in box["boxes"]:
                patch.set(facecolor=(*colour[:3], 0.25), edgecolor=colour, lw=0.9)
            for part in ("medians", "whiskers", "caps"):
                for line in box[part]:
                    line.set(color=colour, lw=0.9)
            for p, v in zip(pos, vals, strict=True):
                jitter = rng.uniform(-width * 0.3, width * 0.3, v.size)
                ax.scatter(p + jitter, v, s=5, color=colour, alpha=0.75, lw=0, zorder=3)
        ticks = [f"{x:g}" if isinstance(x, float) else short(str(x)) for x in order]
        ax.set_xticks(range(len(order)), ticks)
        ax.set_title(short(title, 40))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric)
        ax.grid(axis="y", alpha=0.3)
    labels = [model_label(m, human) for m in present]
    handles = [Patch(facecolor=palette[m], label=short(lab)) for m, lab in zip(present, labels, strict=True)]
    legend_below(fig, handles, labels)
    return fig
