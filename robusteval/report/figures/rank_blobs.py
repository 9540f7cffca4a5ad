"""challengeR blob plot: bootstrap rank distributions per condition and model."""

from __future__ import annotations

__all__ = ["rank_blob_figure"]

import math
from collections.abc import Collection, Sequence

import pandas as pd
from matplotlib.figure import Figure

from robusteval.report.figures.style import (
    MAX_WIDTH_IN,
    as_float,
    dot_legend,
    model_palette,
    short,
    styled,
)


@styled
def rank_blob_figure(
    ranks: pd.DataFrame, conditions: Sequence[str], models: Sequence[str], human: Collection[str] = ()
) -> Figure | None:
    """challengeR blob plot: per condition and model, a disc per bootstrap rank with area proportional to its
    probability, the median rank (black dot) and its percentile interval (black line).

    ``ranks`` holds rank records (kind ``rank``) with a ``panel`` column naming the condition.
    """
    if ranks.empty or len(models) < 2 or not conditions:
        return None
    palette = model_palette(models, human)
    width = min(max(4.5, 1.5 + 0.3 * len(conditions) * len(models)), MAX_WIDTH_IN)
    fig = Figure(layout="constrained", figsize=(width, 3.6))
    ax = fig.subplots()
    width = 0.8 / len(models)
    for ci, cond in enumerate(conditions):
        part = ranks[ranks["panel"] == cond]
        for mi, model in enumerate(models):
            rec = part[part["model"] == model]
            if rec.empty:
                continue
            r = rec.iloc[0]
            x = ci + (mi - (len(models) - 1) / 2) * width
            for pos in range(1, len(models) + 1):
                p = as_float(r.get(f"p_rank_{pos}"))
                if math.isfinite(p) and p > 0:
                    ax.scatter([x], [pos], s=160 * p, color=palette[model], alpha=0.75, lw=0)
            lo, hi = as_float(r.get("rank_ci_low")), as_float(r.get("rank_ci_high"))
            if math.isfinite(lo) and math.isfinite(hi):
                ax.plot([x, x], [lo, hi], color="black", lw=0.9)
            ax.plot([x], [as_float(r.get("median_rank"))], "o", color="black", ms=2.5)
    ax.set_xticks(range(len(conditions)), [short(c) for c in conditions], rotation=35, ha="right")
    ax.set_yticks(range(1, len(models) + 1))
    ax.set_ylim(len(models) + 0.6, 0.4)
    ax.set_ylabel("rank (1 = best)")
    ax.grid(axis="y", alpha=0.3)
    dot_legend(fig, models, palette, human)
    return fig
