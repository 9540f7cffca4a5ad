"""``robusteval search P.yaml [--out DIR] [--cache DIR] [--fresh]``: run the protocol's ``search:`` block.

Writes ``search.json`` (breaking points, worst cases, the trial trace) in the out dir and keeps the Tune
experiments under ``<out>/search/``; rerunning the same command resumes an interrupted search. Exit codes:
0 done, 2 invalid input, 3 some trial failed (see ``trace``), 130 interrupted (rerun to resume).
"""

from __future__ import annotations

__all__ = ["EXIT_INTERRUPTED", "handler", "register"]

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED_TRIALS, EXIT_INTERRUPTED = 0, 3, 130


def handler(args: argparse.Namespace) -> int:
    """Run the search and write ``search.json``; the exit code."""
    from robusteval.data.sources import list_cases
    from robusteval.engine import EngineJob, make_plan
    from robusteval.paths import default_cache_dir
    from robusteval.protocol import load_protocol
    from robusteval.search import SearchInterrupted, run_search

    protocol = load_protocol(args.protocol)
    out = Path(args.out) if args.out else Path("reports") / protocol.name
    out.mkdir(parents=True, exist_ok=True)
    records = list_cases(protocol.dataset, (args.cache or default_cache_dir()).resolve())
    job = EngineJob.from_protocol(protocol, make_plan(protocol, records), Path(args.protocol))
    try:
        result: dict[str, Any] = run_search(
            protocol, job, records, out, fresh=args.fresh, log=lambda m: print(m, file=sys.stderr)
        )
    except SearchInterrupted as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    path = out / "search.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    failed = sum(1 for t in result["trace"] if t["error"])
    print(f"wrote {path} ({len(result['trace'])} trials, {failed} failed)", file=sys.stderr)
    return EXIT_FAILED_TRIALS if failed else EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``search`` to the CLI."""
    p = subparsers.add_parser("search", help="worst-case shift search (Ray Tune); writes search.json")
    p.add_argument("protocol")
    p.add_argument("--out", help="output dir (default reports/<protocol name>/)")
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache for generated data (default $ROBUSTEVAL_CACHE or ~/.cache/robusteval)",
    )
    p.add_argument("--fresh", action="store_true", help="discard earlier trials of this search in --out")
    p.set_defaults(func=handler)
