"""A preview figure of a dataset: one subject per site, FLAIR and T1 axial slices with the lesion outline.

Drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot state, Agg-compatible), so the report can embed
it and the CLI can save it. Slices are shown in radiological orientation (the subject's right on the left,
anterior up), the intensity window is the 1st-99.5th percentile of the brain's voxels.
"""

from __future__ import annotations

__all__ = ["axial_slice_index", "preview_figure", "preview_records", "to_ras"]

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from robusteval.data.case import Case, CaseRecord
from robusteval.errors import CaseError, RobustEvalError

LESION_COLOUR = "#ff3b30"


def _reorient(array: NDArray[Any], ornt: NDArray[np.float64]) -> NDArray[Any]:
    out = nib.orientations.apply_orientation(array, ornt)  # type: ignore[no-untyped-call]
    return np.ascontiguousarray(out)


def to_ras(case: Case) -> Case:
    """``case`` with its arrays permuted / flipped so the array axes run to the Right, Anterior, Superior."""
    ornt = nib.orientations.io_orientation(case.affine)  # type: ignore[no-untyped-call]
    if np.array_equal(ornt, [[0, 1], [1, 1], [2, 1]]):
        return case
    affine = case.affine @ nib.orientations.inv_ornt_aff(ornt, case.shape)  # type: ignore[no-untyped-call]
    return case.with_(
        images={m: _reorient(v, ornt) for m, v in case.images.items()},
        label=_reorient(case.label, ornt),
        ignore=None if case.ignore is None else _reorient(case.ignore, ornt),
        annotations={rater: _reorient(mask, ornt) for rater, mask in case.annotations.items()},
        affine=affine,
    )


def axial_slice_index(case: Case) -> int:
    """The mid-axial slice (array axis 2 of a RAS-oriented case) to show: within the middle third of the
    brain's extent, the slice with the most lesion voxels (the middle slice when there are none there)."""
    brain = np.zeros(case.shape, dtype=bool)
    for image in case.images.values():
        brain |= image > 0
    zs = np.flatnonzero(brain.any(axis=(0, 1)))
    lo, hi = (int(zs[0]), int(zs[-1])) if len(zs) else (0, case.shape[2] - 1)
    third = (hi - lo) / 3.0
    a = round(lo + third)
    b = max(round(hi - third), a)
    per_slice = case.label[:, :, a : b + 1].sum(axis=(0, 1))
    if per_slice.size and per_slice.max() > 0:
        return a + int(np.argmax(per_slice))
    return (lo + hi) // 2


def _window(image: NDArray[np.float32]) -> tuple[float, float]:
    inside = image[image > 0]
    if inside.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(inside, [1.0, 99.5])
    return float(lo), float(max(hi, lo + 1e-6))


def preview_records(records: Sequence[CaseRecord], modalities: Sequence[str] = ("flair", "t1")) -> Figure:
    """Figure of the first loadable record of each site (rows: sites; columns: ``modalities``)."""
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
    n_rows, n_cols = len(by_site), len(modalities)
    fig = Figure(figsize=(2.6 * n_cols, 2.8 * n_rows), layout="constrained")
    axes = np.atleast_2d(np.asarray(fig.subplots(n_rows, n_cols, squeeze=False)))
    for row, (site, loaded) in enumerate(sorted(by_site.items())):
        case = to_ras(loaded)
        z = axial_slice_index(case)
        dx, dy, _ = case.spacing_mm
        extent = (0.0, case.shape[0] * dx, 0.0, case.shape[1] * dy)
        # screen rows = anterior up; screen columns = the subject's right on the left (axis 0 reversed)
        lesion = case.label[::-1, :, z].T.astype(np.float32)
        for col, modality in enumerate(modalities):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if modality not in case.images:
                ax.text(0.5, 0.5, f"no {modality}", ha="center", va="center", transform=ax.transAxes)
                continue
            image = case.images[modality][::-1, :, z].T
            vmin, vmax = _window(case.images[modality])
            ax.imshow(
                image,
                cmap="gray",
                vmin=vmin,
                vmax=vmax,
                origin="lower",
                extent=extent,
                interpolation="nearest",
            )
            if lesion.any():
                outline = {"colors": LESION_COLOUR, "linewidths": 0.8}
                ax.contour(lesion, levels=[0.5], origin="lower", extent=extent, **outline)
            if row == 0:
                ax.set_title(modality.upper(), fontsize=10)
            if col == 0:
                sx, sy, sz = case.spacing_mm
                ax.set_ylabel(f"site {site}\n{case.case_id}\n{sx:.1f}x{sy:.1f}x{sz:.1f} mm", fontsize=8)
    fig.suptitle("lesion outline in red; radiological view (R on the left)", fontsize=8)
    return fig


def preview_figure(manifest_path: Path, modalities: Sequence[str] = ("flair", "t1")) -> Figure:
    """Preview of a dataset described by a CSV manifest (or a folder holding ``manifest.csv``): one test
    subject per site (any partition when a site has no test subject)."""
    from robusteval.data.sources import read_manifest

    path = Path(manifest_path)
    manifest = path / "manifest.csv" if path.is_dir() else path
    records = read_manifest(manifest, list(modalities), None)
    records.sort(key=lambda r: (r.partition != "test", r.case_id))
    return preview_records(records, modalities)
