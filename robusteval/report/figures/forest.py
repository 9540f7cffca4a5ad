"""Forest plot: one row per difference with its (adjusted) interval."""

from __future__ import annotations

__all__ = ["forest_figure"]

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robusteval.report.figures.style import (
    BETTER,
    NEUTRAL,
    WORSE,
    as_float,
    short,
    styled,
)


@styled
def forest_figure(rows: pd.DataFrame, xlabel: str, title: str = "") -> Figure | None:
    """Forest plot: one row per difference with its CI, top to bottom in the given order.

    ``rows`` columns: ``label``, ``estimate``, ``ci_low``, ``ci_high`` and ``status`` (``better``/``worse``:
    significant after correction in that direction, anything else: not significant or not tested).
    """
    if rows.empty:
        return None
    n = len(rows)
    fig = Figure(layout="constrained", figsize=(7.6, 0.9 + 0.24 * n))
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    colours = {"better": BETTER, "worse": WORSE}
    for yi, (_, r) in zip(y, rows.iterrows(), strict=True):
        colour = colours.get(str(r["status"]), NEUTRAL)
        est = as_float(r["estimate"])
        lo, hi = as_float(r["ci_low"]), as_float(r["ci_high"])
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [yi, yi], color=colour, lw=1.6, solid_capstyle="butt")
        if math.isfinite(est):
            filled = str(r["status"]) in colours
            ax.plot([est], [yi], "o", ms=4.5, color=colour, mfc=colour if filled else "white", mew=1.2)
    ax.axvline(0.0, color="#57606a", lw=0.8, ls="--")
    ax.set_yticks(y, [short(str(v), 72) for v in rows["label"]])
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig
