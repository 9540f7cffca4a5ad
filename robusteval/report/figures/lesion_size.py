"""Lesion recall per size bin and model, one panel per condition."""

from __future__ import annotations

__all__ = ["lesion_size_figure"]

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robusteval.report.figures.style import (
    as_float,
    dot_legend,
    grid,
    model_palette,
    short,
    styled,
)


@styled
def lesion_size_figure(
    cells: pd.DataFrame, bins: Mapping[str, str], models: Sequence[str], human: Collection[str] = ()
) -> Figure | None:
    """Lesion recall per size bin (x) and model (colour) with CIs, one panel per condition.

    ``cells`` holds cell records with a ``panel`` column (the condition label, panels in first-seen order);
    ``bins`` maps each metric column (e.g. ``lesion_recall_small``) to its bin label.
    """
    part = cells[cells["metric"].isin(list(bins))]
    if part.empty:
        return None
    panels = list(dict.fromkeys(part["panel"]))
    palette = model_palette(models, human)
    fig, axes = grid(len(panels), 3, 3.5, 2.7, sharey=True)
    width = 0.8 / max(len(models), 1)
    metrics = list(bins)
    for ax, panel in zip(axes, panels, strict=True):
        p = part[part["panel"] == panel]
        for mi, model in enumerate(models):
            xs, ys, lo, hi = [], [], [], []
            for bi, metric in enumerate(metrics):
                rec = p[(p["model"] == model) & (p["metric"] == metric)]
                if rec.empty or not math.isfinite(as_float(rec.iloc[0]["mean"])):
                    continue
                r = rec.iloc[0]
                xs.append(bi + (mi - (len(models) - 1) / 2) * width)
                ys.append(as_float(r["mean"]))
                lo.append(as_float(r["ci_low"]))
                hi.append(as_float(r["ci_high"]))
            if not xs:
                continue
            yerr = np.array(
                [
                    [max(y - a, 0.0) if math.isfinite(a) else 0.0 for y, a in zip(ys, lo, strict=True)],
                    [max(b - y, 0.0) if math.isfinite(b) else 0.0 for y, b in zip(ys, hi, strict=True)],
                ]
            )
            colour = palette[model]
            ax.errorbar(xs, ys, yerr=yerr, fmt="o", ms=4, color=colour, capsize=2, lw=1, label=short(model))
        ax.set_xticks(range(len(metrics)), [bins[m] for m in metrics])
        ax.set_title(short(panel, 40))
        ax.set_ylabel("lesion recall")
        ax.set_ylim(-0.03, 1.05)
        ax.grid(axis="y", alpha=0.3)
    dot_legend(fig, models, palette, human)
    return fig
