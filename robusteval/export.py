"""The protocol's test sets, clean and shifted, as NIfTI plus a manifest (``python -m robusteval export``).

For tools robusteval cannot run (LST, BIANCA, nnU-Net in their own containers): run them on
``DIR/<condition>/<case_id>_<modality>.nii.gz`` and evaluate their predictions with the ``predictions`` adapter
(pattern ``{condition}/{case_id}.nii.gz``). ``<condition>`` is the condition's slug, ``clean`` or
``<name>-s<severity>`` (:class:`robusteval.conditions.ConditionKey`); the shifted volumes are exactly those a
run evaluates (same seeds, same parameters, recorded in the manifest). Case ids and condition names are
checked where they enter (``robusteval.paths``); a case whose id cannot be a file name is a failed row of the
manifest, and no file is written outside ``DIR``.
"""

from __future__ import annotations

__all__ = ["COLUMNS", "export_test_sets"]

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robusteval.conditions import ConditionKey
from robusteval.data.loading import save_nifti
from robusteval.data.sources import list_cases
from robusteval.engine.plan import make_plan
from robusteval.engine.work import shift_item
from robusteval.paths import claim_out_dir, path_under
from robusteval.protocol.schema import Protocol

COLUMNS = ("case_id", "subject_id", "site", "scanner", "split", "condition", "shift", "severity", "seed",
           "status", "error", "shift_params")  # fmt: skip


def export_test_sets(protocol: Protocol, out: Path, cache_dir: Path, *, force: bool = False) -> tuple[int, int]:
    """Write every work item's case under ``out``; returns (written, failed). Failures are in the manifest.

    ``out`` must be new, empty or an earlier export (``force``: any folder); nothing is written outside it.
    """
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
            label = ConditionKey(item.condition, item.severity).slug
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
