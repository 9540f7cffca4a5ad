"""Section 9, examples: the worst- and median-case overlays and the shift gallery the run stored."""

from __future__ import annotations

__all__ = ["build"]

from typing import Any

from robusteval.report.embed import embed_png
from robusteval.report.fmt import (
    fmt_tally,
)
from robusteval.report.view import RunView
from robusteval.rundir import EXAMPLES_DIR, GALLERY, IMAGE_ORIENTATION
from robusteval.status import OK, status_counts


def build(run: RunView) -> dict[str, Any]:
    """The example overlays and the gallery the run stored, each with its caption, or why they are absent."""
    out: dict[str, Any] = {
        "examples": [],
        "gallery": None,
        "notes": [],
        "examples_missing": None,
        "gallery_missing": None,
        "no_prediction": [],
    }
    folder = run.dir / EXAMPLES_DIR
    files = [p for p in sorted(folder.glob("*.png")) if not p.name.startswith("search_")] if folder.is_dir() else []
    captions = {
        "worst_case": "Worst case (lowest mean headline metric over models under the worst shifted condition), "
        f"clean and shifted: reference outline green, each model's prediction red; {IMAGE_ORIENTATION}",
        "median_case": "Median case under the same condition: reference outline green, predictions red; "
        + IMAGE_ORIENTATION,
    }
    order = list(captions)
    for path in sorted(files, key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.name)):
        fig, why = embed_png(path, captions.get(path.stem))
        if fig:
            out["examples"].append(fig)
        if why:
            out["notes"].append(why)
    counts = status_counts(run.cases["status"])
    if not files:
        out["examples_missing"] = (
            "Example slices (worst and median case; image, reference and prediction under "
            "clean and shifted conditions) are not stored for this run."
            if counts[OK]
            else f"No example slices: no work item has an ok row to draw ({fmt_tally(counts)})."
        )
    for model in run.models:  # a model without one ok row has no prediction in any picture: say so, here
        c = status_counts(run.cases.loc[run.cases["model"] == model, "status"])
        if c["rows"] and not c[OK]:
            why = f"{run.name(model)}: no ok row ({fmt_tally(c)}), so no prediction of it is drawn."
            out["no_prediction"].append(why)
    gallery = run.dir / GALLERY
    if gallery.is_file():
        caption = (
            f"Shift gallery: each condition at each severity on one ID case, label outline in red; {IMAGE_ORIENTATION}"
        )
        out["gallery"], why = embed_png(gallery, caption)
        if why:
            out["notes"].append(why)
    else:
        out["gallery_missing"] = f"The shift gallery (shift × severity) is not stored ({GALLERY} absent)."
    return out
