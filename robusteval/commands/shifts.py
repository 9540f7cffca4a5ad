"""``robusteval shifts preview P.yaml --case ID --out FILE.png`` and ``robusteval shifts table``.

``preview`` draws the protocol's conditions at each severity on one case (FLAIR mid-slice, label outline),
with the parameters the engine would draw (same seeds); ``table`` prints every shift's severity table as
Markdown (the tables of docs/shifts.md). :func:`shift_gallery` is the figure, reused by the report.
"""

from __future__ import annotations

__all__ = ["display_modality", "draw_slice", "register", "severity_markdown", "shift_gallery", "slice_fraction"]

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from robusteval.errors import RobustEvalError

if TYPE_CHECKING:  # matplotlib and the shifts wait for the figure: building the CLI parser stays quick
    from matplotlib.figure import Figure

    from robusteval.data.case import Case
    from robusteval.shifts import Condition

DEFAULT_CACHE = Path("reports/.cache")


def _use_agg() -> None:
    """matplotlib's non-interactive Agg backend (files only, no display), before pyplot is imported."""
    import matplotlib

    matplotlib.use("Agg")


def display_modality(case: Case) -> str:
    """FLAIR when the case has it, else its first modality by name."""
    return "flair" if "flair" in case.images else sorted(case.images)[0]


def slice_fraction(case: Case) -> float:
    """Where to cut along array axis 2, as a fraction of the axis: the slice with the most lesion voxels
    (the middle slice when the label is empty)."""
    counts = case.label.sum(axis=(0, 1))
    z = int(np.argmax(counts)) if counts.any() else case.shape[2] // 2
    return z / max(case.shape[2] - 1, 1)


def draw_slice(
    ax: Any,
    case: Case,
    modality: str,
    fraction: float,
    *,
    mask: NDArray[np.bool_] | None = None,
    outline: str = "#ff3b30",
) -> None:
    """The slice at ``fraction`` of array axis 2 of ``modality`` (x to the right, y up), the label outlined in
    ``outline``; ``mask`` (e.g. a prediction) is filled in red over the image."""
    z = round(fraction * (case.shape[2] - 1))
    img: NDArray[np.float32] = case.images[modality][:, :, z].T
    lo, hi = np.percentile(img, [0.5, 99.5]) if img.size else (0.0, 1.0)
    sx, sy, _ = case.spacing_mm
    ax.imshow(img, cmap="gray", origin="lower", vmin=float(lo), vmax=float(max(hi, lo + 1e-6)), aspect=sy / sx,
              interpolation="nearest")  # fmt: skip
    if mask is not None:
        m = mask[:, :, z].T
        ax.imshow(np.ma.masked_where(~m, m.astype(np.float32)), cmap="autumn", alpha=0.55, origin="lower",
                  aspect=sy / sx, interpolation="nearest")  # fmt: skip
    lab = case.label[:, :, z].T
    if lab.any() and not lab.all():
        ax.contour(lab.astype(np.float32), levels=[0.5], colors=outline, linewidths=0.6)
    ax.set_xticks([])
    ax.set_yticks([])


def shift_gallery(case: Case, conditions: Sequence[Condition], severities: Sequence[int], seed: int) -> Figure:
    """A grid: one row per condition, the clean case then one column per severity, of one FLAIR (or first
    modality) slice across array axis 2 with the label outline in red. The slice is the clean case's with
    the most lesion voxels, taken at the same fraction of the axis in every panel (grids may change).

    Parameters are drawn as the engine draws them (``seed_for(seed, case_id, condition, severity)``), so the
    panels show the volumes a run evaluates. The caller closes the figure.
    """
    _use_agg()
    import matplotlib.pyplot as plt

    from robusteval.shifts import apply_condition, sample_condition
    from robusteval.shifts.compose import seed_for

    if not conditions:
        raise RobustEvalError("shift_gallery: no conditions to draw")
    modality = display_modality(case)
    fraction = slice_fraction(case)
    columns = [0, *[int(s) for s in severities if int(s) != 0]]
    fig, axes = plt.subplots(len(conditions), len(columns), figsize=(1.9 * len(columns), 2.0 * len(conditions)),
                             squeeze=False)  # fmt: skip
    for row, condition in zip(axes, conditions, strict=True):
        for ax, severity in zip(row, columns, strict=True):
            if severity == 0:
                shown = case
            else:
                params = sample_condition(condition, severity, seed_for(seed, case.case_id, condition.name, severity))
                shown = apply_condition(case, condition, params)
            draw_slice(ax, shown, modality, fraction)
            ax.set_title("clean" if severity == 0 else f"severity {severity}", fontsize=8)
        row[0].set_ylabel(f"{condition.name}\n[{condition.family}]", fontsize=8)
    fig.suptitle(f"{case.case_id}: {modality}, slice {fraction:.0%} along axis 2, label outline in red", fontsize=9)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.3 / fig.get_figheight()))
    return fig


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def severity_markdown(names: Sequence[str] | None = None) -> str:
    """Every shift's severity table as Markdown, one ``### name`` section each (default options, or one table
    per entry of the class's ``doc_variants`` options, e.g. each scanner profile)."""
    from robusteval.shifts import SHIFTS

    out: list[str] = []
    for name in names or SHIFTS.names():
        cls = SHIFTS.get(name)
        out.append(f"### {name}\n\n_{cls.family}_ - {cls.doc}\n")
        variants: tuple[dict[str, Any], ...] = getattr(cls, "doc_variants", ({},))
        for options in variants:
            rows = cls(**options).severity_table()
            if options:
                out.append("Options " + ", ".join(f"`{k}: {_fmt(v)}`" for k, v in options.items()) + ":\n")
            keys = list(rows[0])
            out.append("| " + " | ".join(keys) + " |")
            out.append("|" + "|".join("---" for _ in keys) + "|")
            out.extend("| " + " | ".join(_fmt(r[k]) for k in keys) + " |" for r in rows)
            out.append("")
    return "\n".join(out)


def _preview(args: argparse.Namespace) -> int:
    _use_agg()
    import matplotlib.pyplot as plt

    from robusteval.data.sources import list_cases
    from robusteval.engine.plan import build_condition
    from robusteval.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    if not protocol.shifts:
        raise RobustEvalError(f"{args.protocol}: the protocol has no shifts to preview")
    records = list_cases(protocol.dataset, args.cache or DEFAULT_CACHE)
    if not records:
        raise RobustEvalError(f"{args.protocol}: the dataset lists no cases")
    if args.case is None:
        record = records[0]
    else:
        found = [r for r in records if r.case_id == args.case]
        if not found:
            known = ", ".join(r.case_id for r in records[:20]) + (" ..." if len(records) > 20 else "")
            raise RobustEvalError(f"--case {args.case!r} is not in the dataset; cases: {known}")
        record = found[0]
    severities = args.severities or sorted({s for spec in protocol.shifts for s in spec.severities})
    conditions = [build_condition(spec) for spec in protocol.shifts]
    fig = shift_gallery(record.load(), conditions, severities, protocol.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=args.dpi)
    plt.close(fig)
    print(f"wrote {out} ({len(conditions)} conditions x {len(severities)} severities, case {record.case_id})")
    return 0


def _table(args: argparse.Namespace) -> int:
    from robusteval.shifts import SHIFTS

    unknown = [n for n in args.names if n not in SHIFTS]
    if unknown:
        raise RobustEvalError(f"unknown shift(s) {unknown}; known: {', '.join(SHIFTS.names())}")
    sys.stdout.write(severity_markdown(args.names or None))
    return 0


def _severities(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated severities 1..5, got {text!r}") from None
    if not values or any(not 1 <= v <= 5 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated severities 1..5, got {text!r}")
    return values


def register(subparsers: Any) -> None:
    """Add ``shifts preview`` and ``shifts table`` to the CLI."""
    parser = subparsers.add_parser("shifts", help="preview a protocol's shifts on a case; print severity tables")
    sub = parser.add_subparsers(dest="shifts_command", required=True, metavar="SUBCOMMAND")
    p = sub.add_parser("preview", help="PNG grid: each condition x severity on one case (FLAIR, label outline)")
    p.add_argument("protocol")
    p.add_argument("--case", default=None, help="case_id to draw (default: the dataset's first case)")
    p.add_argument("--out", required=True, help="output PNG file")
    p.add_argument("--cache", type=Path, default=None, help=f"cache for generated data (default {DEFAULT_CACHE})")
    p.add_argument("--severities", type=_severities, default=None,
                   help="comma-separated severities (default: those of the protocol)")  # fmt: skip
    p.add_argument("--dpi", type=int, default=110)
    p.set_defaults(func=_preview)
    p = sub.add_parser("table", help="print the severity tables (Markdown) of all or the named shifts")
    p.add_argument("names", nargs="*", help="shift names (default: all)")
    p.set_defaults(func=_table)
