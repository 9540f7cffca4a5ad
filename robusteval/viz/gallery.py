"""The shift gallery: one row per shift condition, the clean case then one column per severity."""

from __future__ import annotations

__all__ = ["GalleryRow", "gallery_figure"]

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from robusteval.data.case import Case
from robusteval.errors import RobustEvalError
from robusteval.viz.png import MAX_WIDTH_IN, suptitle
from robusteval.viz.slices import ORIENTATION, axial_slice_index, display_modality, draw_axial, slice_at, to_ras


@dataclass(frozen=True)
class GalleryRow:
    """One condition (``name`` of shift ``family``) as ``(column title, volume)`` panels: the volumes are
    already shifted (the caller applies the condition: :mod:`robusteval.illustrate.images`)."""

    name: str
    family: str
    panels: Sequence[tuple[str, Case]]


def gallery_figure(clean: Case, rows: Sequence[GalleryRow]) -> Figure:
    """A grid of one modality (FLAIR when present) of each panel's volume with the label outline in red.

    The slice is the clean case's (:func:`~robusteval.viz.slices.axial_slice_index`), taken at the same
    fraction of the superior axis in every panel, since a shift may change the grid."""
    if not rows:
        raise RobustEvalError("shift gallery: no conditions to draw")
    modality = display_modality(clean)
    ras = to_ras(clean)
    fraction = axial_slice_index(ras) / max(ras.shape[2] - 1, 1)
    n_cols = max(len(r.panels) for r in rows)
    panel = min(1.9, MAX_WIDTH_IN / n_cols)
    fig = Figure(figsize=(panel * n_cols, (panel + 0.1) * len(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for ax_row, row in zip(axes, rows, strict=True):
        for ax in ax_row[len(row.panels) :]:
            ax.set_visible(False)
        for ax, (title, case) in zip(ax_row, row.panels, strict=False):
            shown = to_ras(case)
            draw_axial(ax, shown, modality if modality in shown.images else display_modality(shown),
                       slice_at(shown, fraction))  # fmt: skip
            ax.set_title(title, fontsize=8)
        ax_row[0].set_ylabel(f"{row.name}\n[{row.family}]", fontsize=8)
    where = f"{clean.case_id}: {modality}, label outline in red, slice {fraction:.0%} from inferior;"
    suptitle(fig, where, ORIENTATION)
    return fig
