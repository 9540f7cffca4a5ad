"""Degradation curves: mean metric against severity, one panel per simulated shift, CI bands."""

from __future__ import annotations

__all__ = ["degradation_figure"]

from collections.abc import Collection, Sequence

import pandas as pd
from matplotlib.figure import Figure

from robusteval.report.figures.style import (
    SEVERITY_COLUMN,
    ceiling,
    grid,
    legend_below,
    model_label,
    model_palette,
    short,
    styled,
)


@styled
def degradation_figure(
    cells: pd.DataFrame,
    metric: str,
    models: Sequence[str] | None = None,
    human: Collection[str] = (),
) -> Figure | None:
    """Mean ``metric`` against severity, one panel per simulated shift, one line per model, CI bands.

    ``cells`` holds the summary's cell records. Severity 0 is the model's ID clean cell; label-noise shifts
    are left out (they perturb the reference, not the image). A ``human`` baseline (annotated on the clean
    images only) is its ID clean mean as a dashed horizontal line with its CI band, across every severity.
    None when there is no simulated shift.
    """
    m = cells[(cells["metric"] == metric) & cells["site"].isna()]
    clean = m[(m["shift"] == "clean") & (m["split"] == "id")]
    shifted = m[(m["shift"] != "clean") & (m["shift_family"] != "label_noise")]
    shifts = sorted(shifted["shift"].unique())
    if not shifts:
        return None
    order = list(models) if models else sorted(m["model"].unique())
    palette = model_palette(order, human)
    fig, axes = grid(len(shifts), 3, 3.6, 2.7, sharey=True)
    for ax, shift in zip(axes, shifts, strict=True):
        data = pd.concat([clean.assign(shift=shift), shifted[shifted["shift"] == shift]])
        for model in order:
            g = data[data["model"] == model].sort_values(SEVERITY_COLUMN)
            if model in human:
                ceiling(ax, clean[clean["model"] == model], model_label(model, human), palette[model])
                continue
            if g.empty:
                continue
            ax.plot(
                g[SEVERITY_COLUMN],
                g["mean"],
                marker="o",
                ms=3.5,
                lw=1.4,
                label=short(model),
                color=palette[model],
            )
            ax.fill_between(
                g[SEVERITY_COLUMN],
                g["ci_low"].astype(float),
                g["ci_high"].astype(float),
                alpha=0.18,
                color=palette[model],
                lw=0,
            )
        ax.set_title(short(shift, 40))
        ax.set_xlabel("severity (0 = clean)")
        ax.set_ylabel(metric)
        ax.set_xticks(sorted({0.0, *data[SEVERITY_COLUMN].astype(float)}))
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    legend_below(fig, handles, labels)
    return fig
