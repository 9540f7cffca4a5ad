"""Report figures (seaborn/matplotlib, Agg backend), returned as base64 PNG data URIs for one offline file."""

from __future__ import annotations

__all__ = ["degradation_figure", "figure_to_data_uri"]

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


def figure_to_data_uri(fig: Figure, dpi: int = 110) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def degradation_figure(cells: pd.DataFrame, metric: str) -> Figure | None:
    """Mean ``metric`` against severity, one panel per shift, one line per model, 95% CI bands.

    Severity 0 is the clean in-distribution cell of each model. None when there is no shifted condition.
    """
    m = cells[cells["metric"] == metric]
    clean = m[(m["shift"] == "clean") & (m["split"] == "id")]
    shifted = m[m["shift"] != "clean"]
    shifts = sorted(shifted["shift"].unique())
    if not shifts:
        return None
    ncols = min(3, len(shifts))
    nrows = -(-len(shifts) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False, sharey=True)
    palette = dict(zip(sorted(m["model"].unique()), sns.color_palette("colorblind"), strict=False))
    for ax, shift in zip(axes.flat, shifts, strict=False):
        data = pd.concat([clean.assign(shift=shift), shifted[shifted["shift"] == shift]]).sort_values("severity")
        for model, g in data.groupby("model"):
            color = palette[str(model)]
            ax.plot(g["severity"], g["mean"], marker="o", label=str(model), color=color)
            ax.fill_between(g["severity"], g["ci_low"], g["ci_high"], alpha=0.2, color=color)
        ax.set_title(shift)
        ax.set_xlabel("severity")
        ax.set_ylabel(metric)
        ax.set_xticks(range(0, 6))
    for ax in list(axes.flat)[len(shifts) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
