"""Run-time images for the report: the dataset preview and the shift gallery, saved into the run dir.

The report embeds ``data_preview.png`` (section 10) and ``gallery.png`` (section 9) when they exist. Drawing
them needs the volumes, which a run dir does not keep, so a run writes them while it has the data:
``write_run_images(out_dir, protocol, records, plan)``. A picture that cannot be drawn (unreadable case,
no shifts) is skipped with a note; it never fails the run.
"""

from __future__ import annotations

__all__ = ["DATA_PREVIEW", "GALLERY", "write_run_images"]

import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from robusteval.data.case import CaseRecord
from robusteval.engine.plan import Plan
from robusteval.errors import RobustEvalError
from robusteval.protocol import Protocol
from robusteval.report.render import DATA_PREVIEW, GALLERY

DPI = 110


def _save(fig: Figure, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tight layouts that cannot fit long names
        fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def write_run_images(
    out_dir: Path,
    protocol: Protocol,
    records: Sequence[CaseRecord],
    plan: Plan,
) -> list[str]:
    """Write ``data_preview.png`` and (when the protocol has shifts) ``gallery.png`` into ``out_dir``.

    The gallery shows the protocol's conditions at each of its severities on the first in-distribution test
    case, with the parameters the engine draws (same seeds). Returns one note per picture not drawn.
    """
    from robusteval.commands.shifts import shift_gallery
    from robusteval.data.preview import preview_records

    notes: list[str] = []
    try:
        _save(preview_records(records, protocol.dataset.modalities), out_dir / DATA_PREVIEW)
    except (RobustEvalError, OSError, ValueError) as exc:
        notes.append(f"dataset preview not drawn: {exc}")
    if not plan.conditions:
        return notes
    items = [i for i in plan.items if i.case_split == "id"] or list(plan.items)
    if not items:
        return [*notes, "shift gallery not drawn: the plan has no cases"]
    severities = sorted({int(s) for spec in protocol.shifts for s in spec.severities})
    try:
        case = items[0].record.load()
        fig = shift_gallery(case, list(plan.conditions.values()), severities, protocol.seed)
        _save(fig, out_dir / GALLERY)
    except (RobustEvalError, OSError, ValueError) as exc:
        notes.append(f"shift gallery not drawn: {exc}")
    return notes
