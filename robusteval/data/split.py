"""In-distribution vs out-of-distribution split of a dataset's cases by metadata columns (``dataset.split``).

A split side is a map ``{column: [values]}``; a record matches it when, for every column,
``record.get(column)`` is one of the values (AND over columns, OR over values; an empty map matches every
record). Values compare as text, or as numbers when both parse as numbers (``"3"`` matches ``3.0``).
``out_of_distribution`` None means every case not in distribution. A record in neither side is not
evaluated; a record matching both sides is an error (the split is ambiguous). Errors are
:class:`~robusteval.errors.FieldError` naming the split field, so that the CLI reports the protocol line.
"""

from __future__ import annotations

__all__ = ["SplitName", "check_split_columns", "matches", "split_of", "split_records"]

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from robusteval.data.case import CaseRecord
from robusteval.errors import FieldError
from robusteval.protocol.schema import SplitSpec

SplitName = Literal["id", "ood"]


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _equal(value: Any, wanted: Any) -> bool:
    if value is None:
        return False
    if str(value) == str(wanted):
        return True
    a, b = _as_number(value), _as_number(wanted)
    return a is not None and b is not None and a == b


def matches(record: CaseRecord, side: Mapping[str, Sequence[Any]]) -> bool:
    """Whether ``record`` has, for every column of ``side``, one of the listed values."""
    return all(any(_equal(record.get(col), v) for v in values) for col, values in side.items())


def split_of(record: CaseRecord, split_spec: SplitSpec) -> SplitName | None:
    """``"id"``, ``"ood"``, or None (in neither side: not evaluated). Raises when both sides match."""
    in_id = matches(record, split_spec.in_distribution)
    ood_side = split_spec.out_of_distribution
    in_ood = (not in_id) if ood_side is None else matches(record, ood_side)
    if in_id and in_ood:
        raise FieldError(
            ("dataset", "split", "out_of_distribution"),
            f"case {record.case_id} matches both in_distribution {split_spec.in_distribution} "
            f"and out_of_distribution {ood_side}; make the two sides disjoint",
        )
    return "id" if in_id else "ood" if in_ood else None


def check_split_columns(records: Sequence[CaseRecord], split_spec: SplitSpec) -> None:
    """Raise when a split column is absent from every record (a typo would otherwise leave sides empty)."""
    sides = {"in_distribution": split_spec.in_distribution, "out_of_distribution": split_spec.out_of_distribution}
    for name, side in sides.items():
        for col in sorted(side or {}):
            if records and all(r.get(col) is None for r in records):
                known = sorted({"case_id", "subject_id", "site", "scanner", "partition", *records[0].metadata})
                raise FieldError(
                    ("dataset", "split", name, col), f"no case has a value for column {col!r}; columns: {known}"
                )


def split_records(records: Sequence[CaseRecord], split_spec: SplitSpec) -> dict[SplitName, list[CaseRecord]]:
    """The records of each side (the others are left out), after checking the columns and that the
    in-distribution side is not empty."""
    check_split_columns(records, split_spec)
    out: dict[SplitName, list[CaseRecord]] = {"id": [], "ood": []}
    for record in records:
        side = split_of(record, split_spec)
        if side is not None:
            out[side].append(record)
    if records and not out["id"]:
        seen = {col: sorted({str(r.get(col)) for r in records}) for col in split_spec.in_distribution}
        raise FieldError(
            ("dataset", "split", "in_distribution"), f"{split_spec.in_distribution} matches no case; values: {seen}"
        )
    return out
