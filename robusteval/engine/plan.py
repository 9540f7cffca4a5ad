"""Planning: which (case, condition, severity) work items a protocol asks for, and their result rows.

Every in-distribution and out-of-distribution test case is evaluated clean (``shift=clean``, severity 0);
each shift condition applies, by default, to the in-distribution cases so that every shifted item has a clean
twin for a paired comparison. ``split`` in the results is ``id`` only for in-distribution cases under the
clean condition; every other row (other sites' clean cases, any shifted case) is ``ood``.
"""

from __future__ import annotations

__all__ = ["RESULT_COLUMNS", "TIMING_COLUMNS", "UNITS_PER_WORKER", "Plan", "WorkItem", "make_plan"]

import math
from dataclasses import dataclass
from typing import Any

from robusteval.data.case import CaseRecord
from robusteval.data.split import split_records
from robusteval.protocol.schema import Protocol, ShiftSpec
from robusteval.rundir import RESULT_COLUMNS, TIMING_COLUMNS
from robusteval.shifts.compose import Condition, seed_for

# Units of work per parallel worker that ``Plan.units`` aims at: enough that the last unit of a run is small
# against a worker's share (the tail where one worker waits for another), few enough that loading a case once
# per unit stays cheap.
UNITS_PER_WORKER = 8


@dataclass(frozen=True)
class WorkItem:
    """One shifted (or clean) version of one case; evaluated by every model."""

    record: CaseRecord
    case_split: str  # "id" or "ood": where the case itself belongs
    condition: str  # "clean" or the condition name
    severity: int
    seed: int

    @property
    def split(self) -> str:
        return "id" if self.case_split == "id" and self.condition == "clean" else "ood"

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.record.case_id, self.condition, self.severity)


@dataclass(frozen=True)
class Plan:
    items: list[WorkItem]
    conditions: dict[str, Condition]
    excluded: list[str]  # case ids in neither split

    def by_case(self) -> dict[str, list[WorkItem]]:
        out: dict[str, list[WorkItem]] = {}
        for item in self.items:
            out.setdefault(item.record.case_id, []).append(item)
        return out

    def units(self, workers: int, per_worker: int = UNITS_PER_WORKER) -> list[list[WorkItem]]:
        """The items cut into units of work for ``workers`` parallel workers, the largest units first.

        A unit is some of one case's items (the case is loaded once per unit). A case is cut into runs of at
        most ``ceil(items / (workers * per_worker))`` items, so that a few heavy cases (in-distribution cases
        carry every shifted item) do not leave workers idle at the end of a run. Items whose condition touches
        only the label ride along with the case's clean item, whose predictions they reuse; they count as free
        when units are sized and ordered. With ``workers=1, per_worker=1`` each case is one unit.
        """
        size = max(1, math.ceil(len(self.items) / (workers * per_worker)))
        sized: list[tuple[int, list[WorkItem]]] = []
        for items in self.by_case().values():
            reuse = [i for i in items if i.condition != "clean" and self.conditions[i.condition].touches_label_only()]
            rest = [i for i in items if i not in reuse]
            runs = [rest[k : k + size] for k in range(0, len(rest), size)] or [[]]
            sized.append((len(runs[0]), runs[0] + reuse))
            sized.extend((len(run), run) for run in runs[1:])
        return [unit for _, unit in sorted(sized, key=lambda s: -s[0])]


def _applies(spec: ShiftSpec, case_split: str) -> bool:
    return spec.apply_to == "all" or (spec.apply_to == "in_distribution") == (case_split == "id")


def build_condition(spec: ShiftSpec) -> Condition:
    return Condition.build(spec.condition, [(s.shift, dict(s.options), s.severity) for s in spec.steps])


def make_plan(protocol: Protocol, records: list[CaseRecord]) -> Plan:
    """All work items in a fixed order: by case, then clean, then the protocol's conditions and severities."""
    conditions = {spec.condition: build_condition(spec) for spec in protocol.shifts}
    items: list[WorkItem] = []
    excluded: list[str] = []
    sides = split_records(records, protocol.dataset.split)
    side_of = {r.case_id: side for side, recs in sides.items() for r in recs}
    for record in records:
        case_split = side_of.get(record.case_id)
        if case_split is None:
            excluded.append(record.case_id)
            continue
        items.append(WorkItem(record, case_split, "clean", 0, 0))
        for spec in protocol.shifts:
            if not _applies(spec, case_split):
                continue
            for severity in spec.severities:
                seed = seed_for(protocol.seed, record.case_id, spec.condition, severity)
                items.append(WorkItem(record, case_split, spec.condition, severity, seed))
    return Plan(items=items, conditions=conditions, excluded=excluded)


def shift_family_of(item: WorkItem, conditions: dict[str, Condition]) -> str:
    """``clean`` for in-distribution clean items, ``site`` for other sites' clean items, else the shift's family."""
    if item.condition == "clean":
        return "site" if item.case_split == "ood" else "clean"
    return conditions[item.condition].family


def base_row(item: WorkItem, model: str, family: str, shift_family: str) -> dict[str, Any]:
    r = item.record
    return {
        "model": model,
        "family": family,
        "case_id": r.case_id,
        "subject_id": r.subject_id,
        "site": r.site,
        "scanner": r.scanner,
        "split": item.split,
        "shift": item.condition,
        "shift_family": shift_family,
        "severity": item.severity,
        "seed": item.seed,
        "status": "ok",
        "error": "",
    }
