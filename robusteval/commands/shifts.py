"""``robusteval shifts preview P.yaml --case ID --out FILE.png`` and ``robusteval shifts table``.

``preview`` draws the protocol's conditions at each severity on one case with the parameters the engine would
draw (same seeds): :func:`robusteval.illustrate.shift_gallery`, the figure a run stores as ``gallery.png``.
``table`` prints every shift's severity table as Markdown (the tables of docs/shifts.md).
"""

from __future__ import annotations

__all__ = ["register"]

import argparse
import sys
from pathlib import Path
from typing import Any

from robusteval.errors import RobustEvalError


def _preview(args: argparse.Namespace) -> int:
    from robusteval.data.sources import list_cases
    from robusteval.engine.plan import build_condition
    from robusteval.illustrate import shift_gallery
    from robusteval.paths import default_cache_dir
    from robusteval.protocol import load_protocol
    from robusteval.viz.png import save_png

    protocol = load_protocol(args.protocol)
    if not protocol.shifts:
        raise RobustEvalError(f"{args.protocol}: the protocol has no shifts to preview")
    records = list_cases(protocol.dataset, (args.cache or default_cache_dir()).resolve())
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
    out = save_png(shift_gallery(record.load(), conditions, severities, protocol.seed), Path(args.out), args.dpi)
    print(f"wrote {out} ({len(conditions)} conditions x {len(severities)} severities, case {record.case_id})")
    return 0


def _table(args: argparse.Namespace) -> int:
    from robusteval.shifts import SHIFTS
    from robusteval.shifts.tables import severity_markdown

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
    p.add_argument("--cache", type=Path, default=None,
                   help="cache for generated data (default $ROBUSTEVAL_CACHE or ~/.cache/robusteval)")  # fmt: skip
    p.add_argument("--severities", type=_severities, default=None,
                   help="comma-separated severities (default: those of the protocol)")  # fmt: skip
    p.add_argument("--dpi", type=int, default=110)
    p.set_defaults(func=_preview)
    p = sub.add_parser("table", help="print the severity tables (Markdown) of all or the named shifts")
    p.add_argument("names", nargs="*", help="shift names (default: all)")
    p.set_defaults(func=_table)
