"""The dataset preview and the shift gallery of a run (``data_preview.png``, ``gallery.png``)."""

from __future__ import annotations

__all__ = ["shift_gallery", "write_run_images"]

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from robusteval.data.case import Case, CaseRecord
from robusteval.engine.plan import Plan
from robusteval.errors import RobustEvalError
from robusteval.protocol import Protocol
from robusteval.rundir import DATA_PREVIEW, GALLERY
from robusteval.shifts import Condition, apply_condition, sample_condition
from robusteval.shifts.compose import seed_for
from robusteval.viz.gallery import GalleryRow, gallery_figure
from robusteval.viz.png import save_png
from robusteval.viz.preview import preview_records


def shift_gallery(case: Case, conditions: Sequence[Condition], severities: Sequence[int], seed: int) -> Figure:
    """Each condition at each severity on ``case`` (the clean case first), with the parameters the engine
    draws (``seed_for(seed, case_id, condition, severity)``), so the panels show the volumes a run evaluates."""
    columns = [int(s) for s in severities if int(s) != 0]
    rows = []
    for condition in conditions:
        panels: list[tuple[str, Case]] = [("clean", case)]
        for severity in columns:
            params = sample_condition(condition, severity, seed_for(seed, case.case_id, condition.name, severity))
            panels.append((f"severity {severity}", apply_condition(case, condition, params)))
        rows.append(GalleryRow(condition.name, condition.family, panels))
    return gallery_figure(case, rows)


def write_run_images(out_dir: Path, protocol: Protocol, records: Sequence[CaseRecord], plan: Plan) -> list[str]:
    """Write ``data_preview.png`` and (when the protocol has shifts) ``gallery.png`` into ``out_dir``.

    The gallery shows the protocol's conditions at each of its severities on the first in-distribution test
    case. Returns one note per picture not drawn."""
    notes: list[str] = []
    try:
        save_png(preview_records(records, protocol.dataset.modalities), out_dir / DATA_PREVIEW)
    except (RobustEvalError, OSError, ValueError) as exc:
        notes.append(f"dataset preview not drawn: {exc}")
    if not plan.conditions:
        return notes
    items = [i for i in plan.items if i.case_split == "id"] or list(plan.items)
    if not items:
        return [*notes, "shift gallery not drawn: the plan has no cases"]
    severities = sorted({int(s) for spec in protocol.shifts for s in spec.severities})
    try:
        fig = shift_gallery(items[0].record.load(), list(plan.conditions.values()), severities, protocol.seed)
        save_png(fig, out_dir / GALLERY)
    except (RobustEvalError, OSError, ValueError) as exc:
        notes.append(f"shift gallery not drawn: {exc}")
    return notes
