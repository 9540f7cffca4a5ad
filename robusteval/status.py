"""The status of a result row of ``cases.csv`` (and the one way rows are counted by it), and of a check.

- ``ok``: scored.
- ``failed``: the item could not be evaluated (the reason is in ``error``); a run with one exits 3.
- ``unavailable``: the model has no prediction for that condition (an external tool's missing file, the
  human baseline under an image shift). Not a failure: left out of the statistics, never scored as the
  worst value, and the run still exits 0.

Every count of rows (summary.json ``counts``, the statistics' ``data`` record, the report's Data section)
comes from :func:`status_counts`, so ok + failed + unavailable = rows everywhere.

A check (``checks:`` of a protocol, :mod:`robusteval.stats.checks`) ends in a :class:`CheckStatus`.
"""

from __future__ import annotations

__all__ = ["FAILED", "OK", "STATUSES", "UNAVAILABLE", "CheckStatus", "status_counts"]

from collections.abc import Iterable
from enum import StrEnum

OK, FAILED, UNAVAILABLE = "ok", "failed", "unavailable"
STATUSES = (OK, FAILED, UNAVAILABLE)


def status_counts(statuses: Iterable[object]) -> dict[str, int]:
    """``{"rows", "ok", "failed", "unavailable"}`` of a status column; a value that is not one of
    :data:`STATUSES` counts as failed (a table not written by robusteval), so the three always add up."""
    counts = {"rows": 0, OK: 0, FAILED: 0, UNAVAILABLE: 0}
    for status in statuses:
        counts["rows"] += 1
        key = str(status)
        counts[key if key in (OK, UNAVAILABLE) else FAILED] += 1
    return counts


class CheckStatus(StrEnum):
    """The outcome of a check, as deepchecks' condition categories; recorded in summary.json as its name.

    - ``PASS``: the estimate is within the limit, and so is its interval;
    - ``WARN``: within the limit, but beyond the warning level or with an interval that crosses the limit;
    - ``FAIL``: beyond the limit;
    - ``ERROR``: the check could not be computed (unknown metric, no data); its message says why.
    """

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"

    @classmethod
    def of(cls, value: object) -> CheckStatus:
        """The status recorded as ``value``; anything that is not one (an edited file) is ``ERROR``."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.ERROR
