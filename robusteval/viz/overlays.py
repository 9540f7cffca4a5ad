"""Example overlays: per row (a condition of one case), the image with the reference outline, then one panel
per model with its prediction filled in red over the image and the reference outlined in green."""

from __future__ import annotations

__all__ = ["OverlayRow", "overlay_figure"]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.viz.png import MAX_WIDTH_IN, suptitle
from robusteval.viz.slices import (
    ORIENTATION,
    REFERENCE_COLOUR,
    axial_slice_index,
    display_modality,
    draw_axial,
    slice_at,
    to_ras,
)


@dataclass(frozen=True)
class OverlayRow:
    """One row: ``label`` (``clean``, ``motion@5``), the case as evaluated, each model's predicted mask on
    the case's grid (a model left out had no prediction: unavailable) and its metric value."""

    label: str
    case: Case
    masks: Mapping[str, NDArray[np.bool_]]
    values: Mapping[str, float] = field(default_factory=dict)


def overlay_figure(rows: Sequence[OverlayRow], metric: str, title: str) -> Figure:
    """The overlays of ``rows``; the slice is chosen on the first row's case and taken at the same fraction
    of the superior axis in every row. A model without a mask in a row gets the bare image, ``unavailable``."""
    models = list(dict.fromkeys(m for row in rows for m in row.masks))
    first = to_ras(rows[0].case)
    fraction = axial_slice_index(first) / max(first.shape[2] - 1, 1)
    panel = min(2.2, MAX_WIDTH_IN / (1 + len(models)))
    fig = Figure(figsize=(panel * (1 + len(models)), (panel + 0.15) * len(rows) + 0.6), layout="constrained")
    axes = fig.subplots(len(rows), 1 + len(models), squeeze=False)
    for r, row in enumerate(rows):
        masks = {m: row.case.with_(label=mask) for m, mask in row.masks.items()}  # reoriented with the case
        case = to_ras(row.case)
        z = slice_at(case, fraction)
        modality = display_modality(case)
        draw_axial(axes[r][0], case, modality, z, outline=REFERENCE_COLOUR)
        axes[r][0].set_title(f"{row.label}: image + reference", fontsize=8)
        for c, model in enumerate(models, start=1):
            mask = to_ras(masks[model]).label if model in masks else None
            draw_axial(axes[r][c], case, modality, z, mask=mask, outline=REFERENCE_COLOUR)
            value = row.values.get(model, float("nan"))
            heading = f"{model}: {metric} {value:.3f}" if mask is not None else f"{model}: unavailable"
            axes[r][c].set_title(heading, fontsize=8)
    suptitle(fig, title, f"reference outline green, prediction red; {ORIENTATION}", fontsize=9)
    return fig
