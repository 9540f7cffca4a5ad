"""Render ``index.html`` from a run folder's files alone (no recomputation).

jinja2 with autoescape on: every user-supplied string (model, case, site, shift names) is escaped. Figures are
embedded as PNG data URIs, so the report is one file that needs no network. Each section is built by its own
module of :mod:`robusteval.report.sections` from the run's records; a section whose inputs are absent carries
a one-line ``missing`` reason instead of vanishing. The run folder's images (``examples/*.png``,
``gallery.png``, ``data_preview.png``) are embedded when present.

The human baseline (models of family ``human``: a second rater scored against the reference) is shown in every
table and figure beside the models, named ``human baseline (<name>)`` in comparisons and drawn grey / dashed,
but it is never ranked among them: the verdict's best-model and best-family statements concern the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from robusteval.report.embed import prune_figures
from robusteval.report.sections import (
    data,
    degradation,
    differences,
    distributions,
    efficiency,
    examples,
    id_vs_ood,
    label_noise,
    lesion_size,
    provenance,
    search,
    verdict,
)
from robusteval.report.view import RunView, load_run
from robusteval.rundir import INDEX
from robusteval.status import FAILED, UNAVAILABLE, status_counts

__all__ = ["SECTIONS", "build_context", "render_report"]

TEMPLATES = Path(__file__).parent / "templates"
SECTIONS = (
    ("verdict", "Verdict"),
    ("id-vs-ood", "In distribution vs out of distribution"),
    ("degradation", "Degradation under shifts"),
    ("differences", "Paired differences"),
    ("distributions", "Distributions, significance and rank stability"),
    ("lesion-size", "Small vs large lesions"),
    ("label-noise", "Label noise"),
    ("efficiency", "Efficiency"),
    ("examples", "Examples"),
    ("data", "Data"),
    ("provenance", "Provenance"),
)
"""(anchor, title) of the report's sections, in order."""


def build_context(run_dir: Path) -> dict[str, Any]:
    """The template context of a run folder (every section's data, figures as data URIs)."""
    return _context(load_run(Path(run_dir)))


def _context(run: RunView) -> dict[str, Any]:
    protocol = run.summary.get("protocol") or {}
    counts = status_counts(run.cases["status"])
    return {
        "protocol": protocol,
        "title": str(protocol.get("name", run.dir.name)),
        "description": str(protocol.get("description", "")),
        "sections": SECTIONS,
        "headline": run.headline,
        "level": f"{run.level:.0%}",
        "correction": run.correction,
        "n_models": len(run.models),
        "n_cases": int(run.cases["case_id"].nunique()) if len(run.cases) else 0,
        "n_failed": counts[FAILED],
        "n_unavailable": counts[UNAVAILABLE],
        "n_rows": counts["rows"],
        "verdict": verdict.build(run),
        "id_vs_ood": id_vs_ood.build(run),
        "degradation": degradation.build(run),
        "search": search.build(run),
        "differences": differences.build(run),
        "distributions": distributions.build(run),
        "lesion_size": lesion_size.build(run),
        "label_noise": label_noise.build(run),
        "efficiency": efficiency.build(run),
        "examples": examples.build(run),
        "data": data.build(run),
        "provenance": provenance.build(run),
    }


def render_report(run_dir: Path) -> Path:
    """Write ``run_dir/index.html`` from the run folder's files alone; returns its path.

    A RobustEvalError, nothing written, when summary.json or cases.csv is unreadable or they disagree.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    run = load_run(Path(run_dir))
    html = env.get_template("index.html.j2").render(**_context(run))
    out = run.dir / INDEX
    out.write_text(html, encoding="utf-8")
    prune_figures(run)
    return out
