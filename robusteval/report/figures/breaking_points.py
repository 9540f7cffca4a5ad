"""Breaking points of the search: per (shift, parameter), each model's point and interval."""

from __future__ import annotations

__all__ = ["breaking_point_figure"]

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from robusteval.report.figures.style import (
    NEUTRAL,
    as_float,
    grid,
    model_palette,
    short,
    styled,
)


@styled
def breaking_point_figure(points: Sequence[Mapping[str, Any]], models: Sequence[str]) -> Figure | None:
    """Dot plot of breaking points: one panel per (shift, parameter), one row per model, the point with its
    case-bootstrap interval. A model that does not break within the searched range is drawn as an open
    triangle at the range's end (``>``); an interval whose upper bound is beyond the range ends in an arrow.

    ``points``: the ``summary["search"]["breaking_points"]`` records (``value``, ``ci_low``, ``ci_high`` and
    ``far``, the end of the searched range; ``value`` None when the model did not break within it)."""
    panels: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for p in points:
        panels.setdefault((str(p.get("shift")), str(p.get("parameter"))), []).append(p)
    if not panels:
        return None
    palette = model_palette(models)
    fig, axes = grid(len(panels), 2, 4.6, 0.8 + 0.38 * len(models))
    for ax, ((shift, param), recs) in zip(axes, sorted(panels.items()), strict=True):
        far = max((as_float(r.get("far")) for r in recs), default=math.nan)
        names = [m for m in models if any(str(r.get("model")) == m for r in recs)]
        for yi, model in enumerate(reversed(names)):
            r = next(r for r in recs if str(r.get("model")) == model)
            colour = palette.get(model, NEUTRAL)
            v, lo, hi = as_float(r.get("value")), as_float(r.get("ci_low")), as_float(r.get("ci_high"))
            if not math.isfinite(v):
                if math.isfinite(far):
                    ax.plot([far], [yi], ">", ms=7, mfc="white", color=colour, mew=1.4)
                continue
            right = hi if math.isfinite(hi) else far
            if math.isfinite(lo) and math.isfinite(right):
                ax.plot([lo, right], [yi, yi], color=colour, lw=1.8, solid_capstyle="butt")
                if not math.isfinite(hi):
                    ax.plot([right], [yi], ">", ms=5, color=colour)
            ax.plot([v], [yi], "o", ms=6, color=colour)
        if math.isfinite(far):
            ax.axvline(far, color="#57606a", lw=0.8, ls=":")
        ax.set_yticks(range(len(names)), [short(m) for m in reversed(names)])
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.set_xlabel(param)
        ax.set_title(f"{shift}: breaking point (dotted: end of range)")
        ax.grid(axis="x", alpha=0.3)
    return fig
