"""Exception types shown to users. Each message says what to change."""

from __future__ import annotations

__all__ = ["CaseError", "PredictionUnavailable", "ProtocolError", "ProtocolIssue", "RobustEvalError"]

from dataclasses import dataclass


class RobustEvalError(Exception):
    """Base class of every error robusteval raises on purpose."""


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


class CaseError(RobustEvalError):
    """A single case (or work item) that cannot be evaluated; the run goes on without it."""


class PredictionUnavailable(CaseError):
    """An external tool has no prediction for this case and condition: reported as unavailable, not failed."""
