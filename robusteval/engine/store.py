"""Resume: every finished unit's rows are appended at once to ``items.jsonl`` in the run dir.

Each row is keyed by a content hash of (case data, condition and its options, severity and seed, model weights
and settings, metric configuration, robusteval's version). A rerun skips every item whose rows are all
present, so after a crash or Ctrl-C the final ``cases.csv`` is identical to an uninterrupted run's. An item with a
``failed`` row is not done: a rerun computes it again (a failure may be transient: a lost node, a full disk) and
its new rows, appended later, replace the failed ones; ``ok`` and ``unavailable`` rows are kept as they are. A torn
last line (the process killed mid-write, a full disk) is set aside in ``items.jsonl.torn`` with a warning, and
appends always start on a new line. ``--fresh`` deletes the store first.
"""

from __future__ import annotations

__all__ = ["ItemStore", "failed_items", "item_keys", "item_row_keys", "pending_items", "row_key"]

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from robusteval import __version__
from robusteval.engine.base import EngineJob
from robusteval.engine.plan import WorkItem
from robusteval.models import ADAPTERS
from robusteval.shifts.compose import Condition
from robusteval.status import FAILED


def _sha(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _condition_spec(condition: Condition | None) -> object:
    if condition is None:
        return "clean"
    return [
        (type(s).__name__, sorted(vars(s).items()), sev)
        for s, sev in zip(condition.steps, condition.severities, strict=True)
    ]


def item_keys(job: EngineJob) -> dict[tuple[str, str, int, str], str]:
    """(case_id, condition, severity, model) -> content hash of everything that determines that row."""
    models = []
    for m in job.models:
        files = ADAPTERS.get(m.adapter).referenced_files(m.params, job.base_dir)
        digests = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
        models.append((m.name, _sha(m.name, m.family, m.adapter, m.params, digests)))
    settings = _sha(sorted(job.metrics), repr(job.metric_config), job.threads, job.device, __version__)
    case_fp: dict[str, str] = {}
    keys = {}
    for item in job.plan.items:
        rid = item.record.case_id
        if rid not in case_fp:
            case_fp[rid] = item.record.fingerprint()
        cond = _condition_spec(job.plan.conditions.get(item.condition))
        for name, model_fp in models:
            keys[(rid, item.condition, item.severity, name)] = _sha(
                case_fp[rid], item.case_split, item.condition, cond, item.severity, item.seed, model_fp, settings
            )
    return keys


class ItemStore:
    """Append-only JSONL of finished units: one line ``{"keys": [...], "rows": [...]}`` per unit."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, dict[str, Any]]:
        """The stored rows by key. A torn last line (a process killed mid-write, a full disk) is set aside,
        with a warning, in ``items.jsonl.torn`` and cut from the store, so the next append starts a new line."""
        done: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return done
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            self._set_aside(data[cut:], cut)
            data = data[:cut]
        for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            try:
                entry = json.loads(line)
                done.update(zip(entry["keys"], entry["rows"], strict=True))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                warnings.warn(f"{self.path}: line {n} is not a stored unit; ignored", RuntimeWarning, stacklevel=2)
        return done

    def _set_aside(self, fragment: bytes, cut: int) -> None:
        torn = self.path.with_name(self.path.name + ".torn")
        with torn.open("ab") as f:
            f.write(fragment + b"\n")
        with self.path.open("r+b") as f:
            f.truncate(cut)
            f.flush()
            os.fsync(f.fileno())
        warnings.warn(
            f"{self.path}: its last line was torn (a run killed mid-write or a full disk); its {len(fragment)} "
            f"bytes are set aside in {torn.name} and those items will be computed again",
            RuntimeWarning,
            stacklevel=3,
        )

    def append(self, keys: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
        line = (json.dumps({"keys": list(keys), "rows": list(rows)}, allow_nan=True) + "\n").encode("utf-8")
        with self.path.open("ab+") as f:
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a torn tail written since load: never glue a row onto it
                    line = b"\n" + line
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def row_key(keys: dict[tuple[str, str, int, str], str], row: dict[str, Any]) -> str:
    return keys[(row["case_id"], row["shift"], int(row["severity"]), row["model"])]


def item_row_keys(job: EngineJob, keys: dict[tuple[str, str, int, str], str], item: WorkItem) -> list[str]:
    """The store keys of ``item``'s rows, one per model."""
    return [keys[(item.record.case_id, item.condition, item.severity, m.name)] for m in job.models]


def failed_items(job: EngineJob, keys: dict[tuple[str, str, int, str], str], done: dict[str, Any]) -> list[WorkItem]:
    """Items with every model's row stored and at least one of them ``failed``: a rerun computes them again."""
    out = []
    for item in job.plan.items:
        rows = [done.get(k) for k in item_row_keys(job, keys, item)]
        if all(r is not None for r in rows) and any(r.get("status") == FAILED for r in rows if r is not None):
            out.append(item)
    return out


def pending_items(job: EngineJob, keys: dict[tuple[str, str, int, str], str], done: dict[str, Any]) -> list[WorkItem]:
    """Items still to compute (they run with every model): a model's row not yet in the store, or a ``failed``
    row (a rerun tries a failed item again; ``ok`` and ``unavailable`` rows are final)."""
    return [
        item
        for item in job.plan.items
        if any(k not in done or done[k].get("status") == FAILED for k in item_row_keys(job, keys, item))
    ]
