"""Label-noise sensitivity: score moves under a noisy reference, and ranking stability."""

from __future__ import annotations

__all__ = ["label_noise_figure"]

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robusteval.conditions import ConditionKey
from robusteval.report.figures.style import (
    MAX_WIDTH_IN,
    legend_below,
    model_label,
    model_palette,
    short,
    styled,
)


@styled
def label_noise_figure(
    moves: pd.DataFrame,
    taus: pd.DataFrame,
    metric: str,
    models: Sequence[str],
    human: Collection[str] = (),
) -> Figure | None:
    """Left: per noise condition, how far each model's mean moves when scored against the noisy reference.
    Right: Kendall's tau between the model rankings under the clean and the noisy reference.

    ``moves``: records of kind ``label_noise_mean`` (``noise``, ``model``, ``move``); ``taus``: records of
    kind ``label_noise_ranking`` (``noise``, ``kendall_tau``); both for ``metric``.
    """
    if moves.empty:
        return None
    noises = sorted(set(moves["noise"]), key=ConditionKey.sort_key_of)
    palette = model_palette(models, human)
    has_tau = not taus.empty and taus["kendall_tau"].notna().any()
    width = min(4.4 + 0.35 * len(noises) + (3.6 if has_tau else 0.0), MAX_WIDTH_IN)
    fig = Figure(layout="constrained", figsize=(width, 3.2))
    axes = fig.subplots(1, 2 if has_tau else 1, squeeze=False, width_ratios=[1.6, 1] if has_tau else None)[0]
    ax = axes[0]
    x = np.arange(len(noises))
    for model in models:
        g = moves[moves["model"] == model].set_index("noise").reindex(noises)
        colour, style = palette[model], "--" if model in human else "-"
        label = short(model_label(model, human))
        ax.plot(x, g["move"].astype(float), marker="o", ms=3.5, lw=1.2, ls=style, color=colour, label=label)
    ax.axhline(0.0, color="#57606a", lw=0.8, ls="--")
    ax.set_xticks(x, [short(n) for n in noises], rotation=35, ha="right")
    ax.set_ylabel(f"{metric}: noisy - clean reference")
    ax.set_title("score move under a noisy reference")
    ax.grid(alpha=0.3)
    if has_tau:
        t = taus.set_index("noise").reindex(noises)
        ax2 = axes[1]
        ax2.bar(x, t["kendall_tau"].astype(float), color="#0969da", alpha=0.8)
        ax2.set_xticks(x, [short(n) for n in noises], rotation=35, ha="right")
        ax2.set_ylim(-1.05, 1.05)
        ax2.axhline(1.0, color="#57606a", lw=0.8, ls=":")
        ax2.set_ylabel("Kendall's tau (ranking clean vs noisy ref.)")
        ax2.set_title("ranking stability")
        ax2.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    legend_below(fig, handles, labels)
    return fig
