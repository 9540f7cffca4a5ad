"""``python -m robusteval``: validate | schema | list | run | report, plus the commands in ``robusteval.commands``.

Exit codes: 0 success; 2 invalid input (protocol, arguments, unreadable dataset); 3 the run finished but some
work items failed (they are listed in cases.csv and the report); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import importlib
import json
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

from robusteval.errors import FieldError, ProtocolError, RobustEvalError, RunInterrupted

EXIT_INVALID = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _load(path: str):  # type: ignore[no-untyped-def]  # returns Protocol; imported lazily to keep --help fast
    from robusteval.protocol import load_protocol

    return load_protocol(path)


def cmd_validate(args: argparse.Namespace) -> int:
    from robusteval.paths import default_cache_dir
    from robusteval.preflight import check_inputs

    protocol = _load(args.protocol)
    notes = check_inputs(protocol, Path(args.protocol), (args.cache or default_cache_dir()).resolve())
    print(
        f"{args.protocol}: valid protocol {protocol.name!r} ({len(protocol.models)} models, "
        f"{len(protocol.shifts)} shift conditions, metrics {', '.join(protocol.metrics.panel)})"
    )
    for note in notes:
        print(f"  {note}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from robusteval.protocol import Protocol

    print(json.dumps(Protocol.model_json_schema(), indent=2))
    return 0


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text and text.strip() else ""


def cmd_list(args: argparse.Namespace) -> int:
    rows: list[tuple[str, str]] = []
    if args.what == "shifts":
        from robusteval.shifts import SHIFTS

        rows = [(n, f"[{c.family}] {c.doc}") for n, c in SHIFTS.items()]
    elif args.what == "metrics":
        from robusteval.metrics import METRICS

        rows = [
            (
                n,
                f"{m.doc} [{m.unit or 'unitless'}, {'higher' if m.higher_is_better else 'lower'} is better; "
                f"empty: {m.empty}]",
            )
            for n, m in METRICS.items()
        ]
    elif args.what == "models":
        from robusteval.models import ADAPTERS
        from robusteval.models.zoo_entry import load_card, zoo_entries

        rows = [(f"adapter {n}", _first_line(c.doc)) for n, c in ADAPTERS.items()]
        for entry in zoo_entries():
            card = load_card(entry)
            dsc = card.get("metrics", {}).get("id_test_dsc")
            n = card.get("parameters")
            size = f"{n:,} parameters" if isinstance(n, int) else "no network parameters"
            rows.append(
                (f"zoo {entry}", f"[{card['family']}] {card['architecture']}, {size}, in-distribution test DSC {dsc}")
            )
    elif args.what == "engines":
        from robusteval.engine import ENGINES

        rows = [(n, c.doc) for n, c in ENGINES.items()]
    width = max((len(n) for n, _ in rows), default=0)
    for name, doc in rows:
        print(f"{name:<{width}}  {doc}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from robusteval.run import run_protocol

    protocol = _load(args.protocol)
    out = Path(args.out) if args.out else Path("reports") / protocol.name
    result = run_protocol(
        protocol,
        Path(args.protocol),
        out,
        cache_dir=args.cache,
        engine=args.engine,
        fresh=args.fresh,
        force=args.force,
        log=lambda m: print(m, file=sys.stderr),
    )
    if result.n_failed:
        _err(f"{result.n_failed} of {result.n_rows} work items failed; see {out / 'cases.csv'} and the report")
    return result.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from robusteval.report import render_report

    run_dir = Path(args.run_dir)
    for name in ("summary.json", "cases.csv"):
        if not (run_dir / name).is_file():
            _err(f"{run_dir}: no {name}; is this a robusteval run dir?")
            return EXIT_INVALID
    if args.markdown:
        from robusteval.report.headline import headline_markdown
        from robusteval.report.view import load_run

        print(headline_markdown(load_run(run_dir)), end="")
        return 0
    print(render_report(run_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m robusteval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "validate", help="check a protocol file, its data and its models' checkpoints (exit 0 valid, 2 invalid)"
    )
    p.add_argument("protocol")
    p.add_argument("--cache", type=Path, default=None, help="where run keeps generated data (as run --cache)")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("schema", help="print the protocol's JSON Schema")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("list", help="what exists: shifts, models, metrics or engines, one line each")
    p.add_argument("what", choices=["shifts", "models", "metrics", "engines"])
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("run", help="run a protocol; writes cases.csv, summary.json, index.html")
    p.add_argument("protocol")
    p.add_argument("--out", help="output dir (default reports/<protocol name>/)")
    p.add_argument("--engine", choices=["local", "ray"], help="override the protocol's execution.engine")
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache for generated data (default $ROBUSTEVAL_CACHE or ~/.cache/robusteval)",
    )
    p.add_argument("--fresh", action="store_true", help="ignore finished items from an earlier run in --out")
    p.add_argument(
        "--force",
        action="store_true",
        help="write into --out even when it holds files robusteval did not write (they may be overwritten)",
    )
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("report", help="re-render index.html from a run dir without recomputing")
    p.add_argument("run_dir")
    p.add_argument("--markdown", action="store_true", help="print the headline table (Markdown) instead")
    p.set_defaults(func=cmd_report)
    import robusteval.commands as commands

    for mod in sorted(m.name for m in pkgutil.iter_modules(commands.__path__)):
        importlib.import_module(f"robusteval.commands.{mod}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ProtocolError as exc:
        for issue in exc.issues:
            _err(str(issue))
        return EXIT_INVALID
    except FieldError as exc:  # found in the data (a split selecting no case): at the field's line
        if getattr(args, "protocol", None):
            from robusteval.protocol.loader import issue_at

            _err(str(issue_at(args.protocol, exc.loc, exc.message)))
        else:
            _err(f"error: {exc}")
        return EXIT_INVALID
    except RunInterrupted as exc:  # Ctrl-C during a run: one line, what was kept, how to resume
        _err(str(exc))
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # Ctrl-C anywhere else
        _err("interrupted")
        return EXIT_INTERRUPTED
    except RobustEvalError as exc:
        _err(f"error: {exc}")
        return EXIT_INVALID
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    return code
