"""The breaking-point search trace: the objective at each value tried."""

from __future__ import annotations

__all__ = ["search_trace_figure"]

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from robusteval.report.figures.style import (
    NEUTRAL,
    as_float,
    grid,
    legend_below,
    model_palette,
    styled,
)


@styled
def search_trace_figure(points: Sequence[Mapping[str, Any]], models: Sequence[str]) -> Figure | None:
    """The breaking-point search trace: the objective at each evaluated parameter value per model, one panel per
    (shift, parameter), with each model's break threshold (dashed)."""
    panels: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for p in points:
        if p.get("points"):
            panels.setdefault((str(p.get("shift")), str(p.get("parameter"))), []).append(p)
    if not panels:
        return None
    palette = model_palette(models)
    fig, axes = grid(len(panels), 2, 4.6, 2.8)
    handles: dict[str, Any] = {}
    for ax, ((shift, param), recs) in zip(axes, sorted(panels.items()), strict=True):
        for r in recs:
            model = str(r.get("model"))
            colour = palette.get(model, NEUTRAL)
            trace = sorted((as_float(t.get("value")), as_float(t.get("objective"))) for t in r["points"])
            (line,) = ax.plot([t[0] for t in trace], [t[1] for t in trace], "o-", ms=3, lw=1.2, color=colour)
            handles.setdefault(model, line)
            if math.isfinite(as_float(r.get("threshold"))):
                ax.axhline(as_float(r.get("threshold")), color=colour, lw=0.8, ls="--")
        ax.set_xlabel(param)
        ax.set_ylabel(f"{recs[0].get('objective', 'objective')} ({recs[0].get('metric', '')})")
        ax.set_title(f"{shift}: objective along the search")
        ax.grid(alpha=0.3)
    legend_below(fig, list(handles.values()), list(handles))
    return fig
