"""The headline table of a run, as Markdown (``python -m robusteval report DIR --markdown``): one row per
model, for a README or a paper.

Columns (the headline metric, means with the run's confidence intervals): in distribution (the ID clean
cell), the OOD sites pooled (the clean cell of every OOD-site case), the ROOD-MRI shift degradation of the
verdict (``pooled`` record: per ID case over the simulated shifts, + = worse; label noise excluded), the
parameter count, the median latency per case and the CO2 per 1,000 cases of the efficiency profile. A value
the run does not have is ``n/a`` (the human baseline has no shifted conditions and no network).
"""

from __future__ import annotations

__all__ = ["headline_markdown", "headline_rows"]

from typing import Any

from robusteval.report.compare import pooled
from robusteval.report.fmt import fmt_ci, fmt_count, fmt_num
from robusteval.report.view import RunView, id_means

COLUMNS = (
    "model",
    "family",
    "ID {m}",
    "OOD sites {m}",
    "shift degradation",
    "parameters",
    "latency (s/case)",
    "CO2 (g/1,000 cases)",
)


def _with_ci(rec: dict[str, Any] | None, value_key: str = "mean") -> str:
    if not rec:
        return "n/a"
    return f"{fmt_num(rec.get(value_key))} {fmt_ci(rec.get('ci_low'), rec.get('ci_high'))}"


def _ood_sites_cell(run: RunView, model: str) -> dict[str, Any] | None:
    """The clean cell of every OOD-site case of ``model`` (sites pooled)."""
    recs = run.records("cells", model=model, metric=run.headline, shift="clean", split="ood", site=None)
    return recs[0] if recs else None


def headline_rows(run: RunView) -> list[list[str]]:
    """One row per model (the report's order: best in distribution first, the human baseline last)."""
    in_distribution = id_means(run, run.headline)
    degradation = pooled(run, "degradation")
    profiles = run.profiles()
    rows = []
    for model in run.models:
        prof = profiles.get(model, {})
        rows.append([
            run.name(model),
            run.family_of(model),
            _with_ci(in_distribution.get(model)),
            _with_ci(_ood_sites_cell(run, model)),
            _with_ci(degradation.get(model), "estimate"),
            fmt_count(prof.get("parameters")),
            fmt_num(prof.get("latency_s")),
            fmt_num(prof.get("co2_g_per_1000")),
        ])  # fmt: skip
    return rows


def headline_markdown(run: RunView) -> str:
    """The headline table as GitHub Markdown, with a line saying what the numbers are."""
    m = run.headline
    header = [c.format(m=m.upper()) for c in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in headline_rows(run)]
    level = f"{100 * run.level:g}%"
    lines.append("")
    lines.append(
        f"Means of {m} with {level} intervals; shift degradation: ROOD-MRI, per ID case over the simulated "
        "shifts (+ = worse); latency and CO2 from the efficiency profile of this run's machine."
    )
    return "\n".join(lines) + "\n"
