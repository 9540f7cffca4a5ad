"""``export P.yaml --out DIR``: write the protocol's test sets, clean and shifted, as NIfTI plus a manifest
(:func:`robusteval.export.export_test_sets`)."""

from __future__ import annotations

__all__ = ["register"]

import argparse
import sys
from pathlib import Path


def _handler(args: argparse.Namespace) -> int:
    from robusteval.export import export_test_sets  # the pipeline: imported when the command runs
    from robusteval.paths import default_cache_dir
    from robusteval.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    written, failed = export_test_sets(protocol, Path(args.out), args.cache or default_cache_dir(), force=args.force)
    print(f"wrote {written} case versions to {args.out} (manifest.csv); {failed} failed", file=sys.stderr)
    return 3 if failed else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("export", help="write the clean and shifted test sets as NIfTI + manifest.csv")
    p.add_argument("protocol")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--cache", type=Path, default=None, help="data cache (default $ROBUSTEVAL_CACHE)")
    p.add_argument("--force", action="store_true", help="write into --out even when it holds other files")
    p.set_defaults(func=_handler)
