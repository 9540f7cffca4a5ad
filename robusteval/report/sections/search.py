"""The search section: breaking points, the worst case found, the search trace and its example."""

from __future__ import annotations

__all__ = ["build"]

from typing import Any

from robusteval.conditions import param_text
from robusteval.report import figures as F
from robusteval.report.embed import embed_png, figure
from robusteval.report.fmt import (
    fmt_any,
    fmt_ci,
)
from robusteval.report.view import RunView
from robusteval.rundir import EXAMPLES_DIR, IMAGE_ORIENTATION


def build(run: RunView) -> dict[str, Any]:
    """Breaking points (value and CI per model and shift) and the worst case found, from ``summary["search"]``."""
    search = run.summary.get("search")
    if not search:
        return {"missing": "This protocol has no search: block (worst-case shift search with Ray Tune)."}
    points = [
        {
            "model": str(b.get("model")),
            "shift": str(b.get("shift")),
            "parameter": str(b.get("parameter")),
            "value": fmt_any(b.get("value")),
            "ci": fmt_ci(b.get("ci_low"), b.get("ci_high")),
            "bracket": "" if b.get("bracket") is None else str(b.get("bracket")),
            "threshold": fmt_any(b.get("threshold")),
            "note": str(b.get("note") or ""),
        }
        for b in search.get("breaking_points", [])
    ]
    worst = [
        {
            "model": str(w.get("model")),
            "objective": fmt_any(w.get("objective")),
            "params": "; ".join(param_text(p) for p in (w.get("params") or [])) or "none",
            "trials": f"{w.get('n_complete')}/{w.get('n_trials')} ({w.get('algorithm')}, {w.get('scheduler')})",
        }
        for w in search.get("worst_case", [])
    ]
    records = search.get("breaking_points", [])
    figures = [
        figure(
            run,
            F.breaking_point_figure,
            (records, run.models),
            "Breaking points with 95% case-bootstrap intervals: further right tolerates more of the shift",
        ),
        figure(run, F.search_trace_figure, (records, run.models), "Search trace: objective at each value tried"),
    ]
    folder = run.dir / EXAMPLES_DIR
    for path in sorted(folder.glob("search_worst_*.png")) if folder.is_dir() else []:
        fig, _ = embed_png(
            path,
            "Worst case found by the search on its most affected case: reference green, prediction red; "
            + IMAGE_ORIENTATION,
        )
        figures.append(fig)
    return {"missing": "", "points": points, "worst": worst, "figures": [f for f in figures if f]}
