"""The dataset preview: one subject per site (rows), each modality (columns), the lesion outline in red."""

from __future__ import annotations

__all__ = ["preview_figure", "preview_manifest", "preview_records"]

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from robusteval.data.case import Case, CaseRecord
from robusteval.data.sources import read_manifest
from robusteval.errors import CaseError, RobustEvalError
from robusteval.viz.png import suptitle
from robusteval.viz.slices import ORIENTATION, axial_slice_index, draw_axial, to_ras


def preview_figure(by_site: Mapping[str, Case], modalities: Sequence[str] = ("flair", "t1")) -> Figure:
    """One row per site (sorted) of the given loaded cases, one column per modality, on each case's own
    axial slice (:func:`~robusteval.viz.slices.axial_slice_index`)."""
    n_rows, n_cols = len(by_site), len(modalities)
    fig = Figure(figsize=(2.6 * n_cols, 2.8 * n_rows + 0.3), layout="constrained")
    axes = np.atleast_2d(np.asarray(fig.subplots(n_rows, n_cols, squeeze=False)))
    for row, (site, loaded) in enumerate(sorted(by_site.items())):
        case = to_ras(loaded)
        z = axial_slice_index(case)
        for col, modality in enumerate(modalities):
            ax = axes[row, col]
            if modality in case.images:
                draw_axial(ax, case, modality, z)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.text(0.5, 0.5, f"no {modality}", ha="center", va="center", transform=ax.transAxes)
            if row == 0:
                ax.set_title(modality.upper(), fontsize=10)
            if col == 0:
                sx, sy, sz = case.spacing_mm
                ax.set_ylabel(f"site {site}\n{case.case_id}\n{sx:.1f}x{sy:.1f}x{sz:.1f} mm", fontsize=8)
    suptitle(fig, f"lesion outline in red; {ORIENTATION}")
    return fig


def preview_records(records: Sequence[CaseRecord], modalities: Sequence[str] = ("flair", "t1")) -> Figure:
    """:func:`preview_figure` of the first loadable record of each site; a RobustEvalError when none loads."""
    by_site: dict[str, Case] = {}
    failures: list[str] = []
    for record in records:
        if record.site in by_site:
            continue
        try:
            by_site[record.site] = record.load()
        except CaseError as exc:
            failures.append(f"{record.case_id}: {exc}")
    if not by_site:
        reasons = "".join(f"\n  {f}" for f in failures)
        raise RobustEvalError(f"no case could be loaded for the preview{reasons}")
    return preview_figure(by_site, modalities)


def preview_manifest(manifest_path: Path, modalities: Sequence[str] = ("flair", "t1")) -> Figure:
    """Preview of a dataset described by a CSV manifest (or a folder holding ``manifest.csv``): one test
    subject per site (any partition when a site has no test subject)."""
    path = Path(manifest_path)
    manifest = path / "manifest.csv" if path.is_dir() else path
    records = read_manifest(manifest, list(modalities), None)
    records.sort(key=lambda r: (r.partition != "test", r.case_id))
    return preview_records(records, modalities)
