"""Performance against parameter count, and against CO2 per 1,000 cases: ID mean with CI and OOD mean."""

from __future__ import annotations

__all__ = ["co2_figure", "efficiency_figure"]

import math

import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from robusteval.report.figures.style import (
    COLORBLIND,
    HUMAN_COLOUR,
    as_float,
    ceiling,
    model_label,
    short,
    styled,
)
from robusteval.rundir import HUMAN_FAMILY


@styled
def efficiency_figure(perf: pd.DataFrame, metric: str) -> Figure | None:
    """Performance against parameter count (log scale): ID mean with CI (filled) and OOD mean (hollow).

    ``perf`` columns: ``model``, ``family``, ``parameters``, ``id_mean``, ``id_low``, ``id_high``,
    ``ood_mean``. None when no model has a parameter count. A human baseline (family ``human``, no
    parameters) is its ID mean as a dashed horizontal line with its CI band.
    """
    return _against(perf, metric, "parameters", "parameters (log scale)")


@styled
def co2_figure(perf: pd.DataFrame, metric: str) -> Figure | None:
    """Performance against g CO2eq per 1,000 cases (log scale), as :func:`efficiency_figure` draws it
    against parameters; ``perf`` has a ``co2_g_per_1000`` column. None when no model has a CO2 figure."""
    return _against(perf, metric, "co2_g_per_1000", "g CO2eq per 1,000 cases (log scale)")


def _against(perf: pd.DataFrame, metric: str, column: str, xlabel: str) -> Figure | None:
    if column not in perf.columns:
        return None
    p = perf[pd.to_numeric(perf[column], errors="coerce") > 0]
    if p.empty:
        return None
    humans = perf[perf["family"].astype(str) == HUMAN_FAMILY]
    families = sorted({str(f) for f in p["family"]})
    colours = {f: to_rgb(COLORBLIND[i % len(COLORBLIND)]) for i, f in enumerate(families)}
    fig = Figure(layout="constrained", figsize=(6.0, 3.6))
    ax = fig.subplots()
    for _, r in p.iterrows():
        x = float(r[column])
        c = colours[str(r["family"])]
        y, lo, hi = as_float(r["id_mean"]), as_float(r["id_low"]), as_float(r["id_high"])
        if math.isfinite(y):
            err = [[y - lo if math.isfinite(lo) else 0.0], [hi - y if math.isfinite(hi) else 0.0]]
            ax.errorbar([x], [y], yerr=err, fmt="o", color=c, ms=6, capsize=2)
            name = short(str(r["model"]))
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=7.5)
        oy = as_float(r["ood_mean"])
        if math.isfinite(oy):
            ax.plot([x], [oy], "o", mfc="white", color=c, ms=6, mew=1.4)
            if math.isfinite(y):
                ax.plot([x, x], [y, oy], color=c, lw=0.8, ls=":")
    for _, r in humans.iterrows():
        cell = pd.DataFrame({"mean": [r["id_mean"]], "ci_low": [r["id_low"]], "ci_high": [r["id_high"]]})
        ceiling(ax, cell, model_label(str(r["model"]), {str(r["model"])}), HUMAN_COLOUR)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3, which="both")
    handles = [Line2D([], [], marker="o", ls="", color=colours[f], label=short(f)) for f in families]
    handles += [h for h in ax.get_lines() if str(h.get_linestyle()) == "--"]
    handles += [
        Line2D([], [], marker="o", ls="", color="black", label="in distribution (95% CI)"),
        Line2D([], [], marker="o", ls="", mfc="white", color="black", label="OOD mean"),
    ]
    ax.legend(handles=handles, loc="best", frameon=False)
    return fig
