"""``export P.yaml --out DIR``: write the protocol's test sets, clean and shifted, as NIfTI plus a manifest.

For tools robusteval cannot run (LST, BIANCA, nnU-Net in their own containers): run them on
``DIR/<condition>/<case_id>_<modality>.nii.gz`` and evaluate their predictions with the ``predictions`` adapter
(pattern ``{condition}/{case_id}.nii.gz``). ``<condition>`` is ``clean`` or ``<name>-s<severity>``; the
shifted volumes are exactly those a run evaluates (same seeds, same parameters, recorded in the manifest).
Case ids and condition names are checked where they enter (``robusteval.paths``); a case whose id cannot be a
file name is a failed row of the manifest, and no file is written outside ``DIR``.
"""

from __future__ import annotations

__all__ = ["export_test_sets", "register"]

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from robusteval.paths import claim_out_dir, path_under

if TYPE_CHECKING:  # the pipeline is imported by the command itself: building the CLI parser stays quick
    from robusteval.protocol.schema import Protocol

COLUMNS = ("case_id", "subject_id", "site", "scanner", "split", "condition", "shift", "severity", "seed",
           "status", "error", "shift_params")  # fmt: skip


def export_test_sets(protocol: Protocol, out: Path, cache_dir: Path, *, force: bool = False) -> tuple[int, int]:
    """Write every work item's case under ``out``; returns (written, failed). Failures are in the manifest.

    ``out`` must be new, empty or an earlier export (``force``: any folder); nothing is written outside it.
    """
    from robusteval.data.loading import save_nifti
    from robusteval.data.sources import list_cases
    from robusteval.engine.plan import make_plan
    from robusteval.engine.work import condition_label, shift_item

    claim_out_dir(out, "export", force=force)
    plan = make_plan(protocol, list_cases(protocol.dataset, cache_dir))
    modalities = list(protocol.dataset.modalities)
    rows: list[dict[str, Any]] = []
    for items in plan.by_case().values():
        load_error = ""
        try:
            case = items[0].record.load()
        except Exception as exc:
            case, load_error = None, f"{type(exc).__name__}: {exc}"
        for item in items:
            label = condition_label(item.condition, item.severity)
            r = item.record
            row: dict[str, Any] = {"case_id": r.case_id, "subject_id": r.subject_id, "site": r.site,
                                   "scanner": r.scanner, "split": item.split, "condition": label,
                                   "shift": item.condition, "severity": item.severity, "seed": item.seed,
                                   "status": "ok", "error": "", "shift_params": ""}  # fmt: skip
            rows.append(row)
            if case is None:
                row.update(status="failed", error=load_error)
                continue
            try:
                shifted, params = shift_item(case, item, plan.conditions)
                volumes: dict[str, NDArray[Any]] = {m: shifted.images[m] for m in modalities}
                volumes["label"] = shifted.label.astype(np.uint8)
                for m, volume in volumes.items():
                    path = path_under(out, label, f"{r.case_id}_{m}.nii.gz")  # no name leads out of ``out``
                    path.parent.mkdir(parents=True, exist_ok=True)
                    save_nifti(volume, shifted.affine, path)
                    row[m] = f"{label}/{path.name}"
                row["shift_params"] = json.dumps(params, sort_keys=True) if params else ""
            except Exception as exc:
                row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    with path_under(out, "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*COLUMNS, *modalities, "label"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    failed = sum(row["status"] == "failed" for row in rows)
    return len(rows) - failed, failed


def _handler(args: argparse.Namespace) -> int:
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
