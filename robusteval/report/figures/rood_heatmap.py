"""The ROOD-MRI degradation heatmap: model x shift, annotated, + = worse than clean."""

from __future__ import annotations

__all__ = ["degradation_heatmap"]

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robusteval.report.figures.style import (
    MAX_WIDTH_IN,
    short,
    styled,
)


@styled
def degradation_heatmap(
    rood: pd.DataFrame,
    metric: str,
    models: Sequence[str] | None = None,
) -> Figure | None:
    """Shift x model ROOD-MRI degradation of ``metric`` (positive = worse than clean), annotated.

    ``rood`` holds robustness records of kind ``rood`` (per shift and the ``mean`` over shifts). One row per
    shift (the mean over shifts last, below a line) and one column per model: a protocol's many shifts make
    the figure taller, never wider than the page, so its labels keep their size.
    """
    r = rood[(rood["metric"] == metric) & rood["degradation"].notna()]
    if r.empty:
        return None
    table = r.pivot_table(index="shift", columns="model", values="degradation", aggfunc="first")
    shifts = [c for c in sorted(table.index) if c != "mean"]
    shifts += ["mean"] if "mean" in table.index else []
    columns = [x for x in (models or sorted(table.columns)) if x in table.columns]
    table = table.loc[shifts, columns].rename(index={"mean": "mean over shifts"})
    width = min(MAX_WIDTH_IN, max(4.0, 3.4 + 1.0 * len(columns)))
    height = max(2.2, 1.3 + 0.3 * len(shifts))
    fig = Figure(layout="constrained", figsize=(width, height))
    ax = fig.subplots()
    values = table.to_numpy(dtype=float)
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    bound = bound or 1.0
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn_r", vmin=-bound, vmax=bound, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if math.isfinite(v):
            colour = "white" if abs(v) > 0.6 * bound else "black"
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8, color=colour)
    if "mean" in shifts and len(shifts) > 1:
        ax.axhline(len(shifts) - 1.5, color="white", lw=2.5)
    ax.set_xticks(range(len(columns)), [short(c) for c in columns], rotation=30 if len(columns) > 4 else 0,
                  ha="right" if len(columns) > 4 else "center")  # fmt: skip
    ax.set_yticks(range(len(shifts)), [short(str(s), 32) for s in table.index])
    ax.tick_params(length=0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="degradation (+ = worse)")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("model")
    ax.set_ylabel("shift")
    ax.set_title(f"{metric}: ROOD-MRI degradation")
    return fig
