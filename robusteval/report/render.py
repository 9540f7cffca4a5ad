"""Render ``index.html`` from a run dir's ``summary.json`` and ``cases.csv`` (no recomputation).

jinja2 with autoescape on: every user-supplied string (model, case, site, shift names) is escaped.
Figures are embedded as PNG data URIs, so the report is one file that needs no network.
"""

from __future__ import annotations

__all__ = ["render_report"]

import json
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from robusteval.report.figures import degradation_figure, figure_to_data_uri

TEMPLATES = Path(__file__).parent / "templates"


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _condition(row: pd.Series) -> str:
    return "clean" if row["shift"] == "clean" else f"{row['shift']} s{int(row['severity'])}"


def _verdict(cells: pd.DataFrame, metric: str, higher_is_better: bool) -> list[dict[str, Any]]:
    """Best model in distribution and under OOD conditions (mean over OOD cells) for the headline metric."""
    m = cells[cells["metric"] == metric]
    out = []
    for label, part in (("in distribution", m[m["split"] == "id"]), ("out of distribution", m[m["split"] == "ood"])):
        if part.empty:
            continue
        by_model = part.groupby("model")["mean"].mean()
        best = by_model.idxmax() if higher_is_better else by_model.idxmin()
        out.append({"label": label, "model": best, "value": by_model[best],
                    "others": {k: v for k, v in by_model.items() if k != best}})  # fmt: skip
    return out


def render_report(run_dir: Path) -> Path:
    """Write ``run_dir/index.html``; returns its path."""
    from robusteval.metrics import METRICS

    summary = json.loads((run_dir / "summary.json").read_text())
    cases = pd.read_csv(run_dir / "cases.csv", keep_default_na=True)
    cells = pd.DataFrame(summary.get("cells", []))
    headline = summary["protocol"]["report"]["headline_metric"]
    metrics = summary["protocol"]["metrics"]["panel"]
    tables = []
    if not cells.empty:
        cells = cells.sort_values(["model", "split", "shift", "severity"])
        for metric in metrics:
            part = cells[cells["metric"] == metric].copy()
            part["condition"] = part.apply(_condition, axis=1)
            rows = [
                {"model": r["model"], "condition": r["condition"], "split": r["split"], "n": r["n"],
                 "mean": _fmt(r["mean"]), "ci": f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"}  # fmt: skip
                for _, r in part.iterrows()
            ]
            info = METRICS.get(metric) if metric in METRICS else None
            tables.append({"metric": metric, "rows": rows, "unit": getattr(info, "unit", ""),
                           "direction": "higher is better" if getattr(info, "higher_is_better", True)
                           else "lower is better"})  # fmt: skip
    figures = []
    if not cells.empty:
        fig = degradation_figure(cells, headline)
        if fig is not None:
            figures.append({"title": f"{headline} against severity (mean, 95% CI)", "uri": figure_to_data_uri(fig)})
    failed = cases[cases["status"] == "failed"][["model", "case_id", "shift", "severity", "error"]]
    hib = METRICS.get(headline).higher_is_better if headline in METRICS else True
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)  # fmt: skip
    env.filters["fmt"] = _fmt
    html = env.get_template("index.html.j2").render(
        summary=summary,
        protocol=summary["protocol"],
        provenance=summary["provenance"],
        headline=headline,
        verdict=_verdict(cells, headline, hib) if not cells.empty else [],
        tables=tables,
        figures=figures,
        failed=failed.to_dict("records"),
        n_rows=len(cases),
        sites=cases.groupby("site")["case_id"].nunique().to_dict(),
        protocol_json=json.dumps(summary["protocol"], indent=2),
    )
    out = run_dir / "index.html"
    out.write_text(html, encoding="utf-8")
    return out
