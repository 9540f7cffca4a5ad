"""Exception types shown to users. Each message says what to change."""

from __future__ import annotations

__all__ = [
    "CaseError",
    "FieldError",
    "PredictionUnavailable",
    "ProtocolError",
    "ProtocolIssue",
    "RobustEvalError",
    "RunInterrupted",
    "field_path",
]

from collections.abc import Sequence
from dataclasses import dataclass


def field_path(loc: Sequence[int | str]) -> str:
    """``("shifts", 2, "severities", 0)`` -> ``shifts[2].severities[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class RobustEvalError(Exception):
    """Base class of every error robusteval raises on purpose."""


class RunInterrupted(RobustEvalError):
    """A run stopped by Ctrl-C, its finished items kept; the message says how many and how to resume."""


@dataclass(frozen=True)
class ProtocolIssue:
    """One problem in a protocol file: where it is and what was expected."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ProtocolError(RobustEvalError):
    """An invalid protocol; holds one :class:`ProtocolIssue` per problem."""

    def __init__(self, issues: list[ProtocolIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class FieldError(RobustEvalError):
    """A problem with one protocol field that only the data or a file shows (a split selecting no case).

    ``loc`` is the field's path, e.g. ``("dataset", "split", "in_distribution")``; commands that read the
    protocol file report it as a :class:`ProtocolIssue` at that field's line."""

    def __init__(self, loc: Sequence[int | str], message: str) -> None:
        self.loc = tuple(loc)
        self.message = message
        super().__init__(f"{field_path(self.loc)}: {message}")


class CaseError(RobustEvalError):
    """A single case (or work item) that cannot be evaluated; the run goes on without it."""


class PredictionUnavailable(CaseError):
    """An external tool has no prediction for this case and condition: reported as unavailable, not failed."""
