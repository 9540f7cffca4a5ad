"""challengeR significance maps: where the row model is significantly better than the column model."""

from __future__ import annotations

__all__ = ["significance_map_figure"]

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from robusteval.report.figures.style import (
    MAX_WIDTH_IN,
    grid,
    model_label,
    short,
    styled,
)


@styled
def significance_map_figure(
    sig: pd.DataFrame,
    conditions: Sequence[str],
    models: Sequence[str],
    human: Collection[str] = (),
) -> Figure | None:
    """challengeR significance maps: per condition, a filled square where the row model is significantly
    better than the column model (one-sided Wilcoxon, adjusted within the condition).

    ``sig`` holds the model-vs-model records of kind ``significance`` with a ``panel`` column naming the
    condition; ``conditions`` are the panels to draw.
    """
    if sig.empty or len(models) < 2 or not conditions:
        return None
    n = len(models)
    size = 0.9 + 0.32 * n
    side = max(size, 2.4)
    fig, axes = grid(len(conditions), max(1, min(4, int(MAX_WIDTH_IN // side))), side, side)
    cmap = ListedColormap(["#f6f8fa", "#0969da"])
    for ax, cond in zip(axes, conditions, strict=True):
        part = sig[sig["panel"] == cond]
        cells = np.full((n, n), np.nan)
        for _, r in part.iterrows():
            if r["model"] in models and r["other"] in models:
                filled = 1.0 if r["significant"] is True else 0.0
                cells[models.index(r["model"]), models.index(r["other"])] = filled
        ax.imshow(np.ma.masked_invalid(cells), cmap=cmap, vmin=0, vmax=1)
        for i in range(n):
            ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, color="#d0d7de"))
        names = [short(model_label(m, human), 24) for m in models]
        ax.set_xticks(range(n), names, rotation=60, ha="right")
        ax.set_yticks(range(n), names)
        for k in range(n + 1):
            ax.axhline(k - 0.5, color="white", lw=1.0)
            ax.axvline(k - 0.5, color="white", lw=1.0)
        ax.set_title(short(cond, 28))
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.supylabel("model (row) ...", fontsize=8)
    fig.supxlabel("... is significantly better than (column): filled", fontsize=8)
    return fig
