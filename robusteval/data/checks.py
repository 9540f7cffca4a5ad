"""Counting what loaded: loaded + failed = listed, and how many loaded cases have an empty reference.

An empty reference label (no foreground voxel) is valid data: the metric conventions decide its scores.
It is counted so the report can say how many such cases there are.
"""

from __future__ import annotations

__all__ = ["LoadSummary", "has_empty_reference", "summarize_loading"]

from collections.abc import Iterable
from dataclasses import dataclass, field

from robusteval.data.case import Case, CaseRecord
from robusteval.errors import CaseError


def has_empty_reference(case: Case) -> bool:
    """True when the reference label has no foreground voxel (ignored voxels do not count as foreground)."""
    return not bool(case.label.any())


@dataclass
class LoadSummary:
    """Outcome of loading a dataset's records: ``failed`` maps case_id -> reason."""

    listed: int = 0
    loaded: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    empty_reference: list[str] = field(default_factory=list)

    def add_case(self, case: Case) -> None:
        """Count one case that loaded."""
        self.listed += 1
        self.loaded += 1
        if has_empty_reference(case):
            self.empty_reference.append(case.case_id)

    def add_failure(self, case_id: str, reason: str) -> None:
        """Count one case that failed to load, with its reason."""
        self.listed += 1
        self.failed[case_id] = reason

    @property
    def consistent(self) -> bool:
        """loaded + failed = listed."""
        return self.loaded + len(self.failed) == self.listed

    def lines(self) -> list[str]:
        """A human summary: the counts, then one line per failed case."""
        head = (
            f"{self.listed} listed, {self.loaded} loaded, {len(self.failed)} failed, "
            f"{len(self.empty_reference)} with an empty reference label"
        )
        return [head, *(f"  {case_id}: {reason}" for case_id, reason in sorted(self.failed.items()))]


def summarize_loading(records: Iterable[CaseRecord]) -> LoadSummary:
    """Load every record once (one at a time, nothing kept) and count the outcomes (CaseErrors recorded)."""
    summary = LoadSummary()
    for record in records:
        try:
            case = record.load()
        except CaseError as exc:
            summary.add_failure(record.case_id, str(exc))
        else:
            summary.add_case(case)
            del case
    return summary
