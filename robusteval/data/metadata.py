"""Per-case metadata tables (CSV): typed columns, and extra metadata merged into a dataset by ``case_id``.

Column typing (as a spreadsheet would): a column whose non-empty cells all parse as integers becomes ``int``
(unless a cell has a leading zero, like ``007``, which keeps the column text), all-numeric becomes ``float``,
anything else stays ``str``; empty cells become None. Splits compare values as text or as numbers
(see :mod:`robusteval.data.split`), so ``field_strength_t: ["3"]`` matches ``3.0``.
"""

from __future__ import annotations

__all__ = ["MetadataValue", "read_metadata_table", "read_table", "typed_columns"]

import csv
import re
from pathlib import Path

from robusteval.errors import RobustEvalError

MetadataValue = str | int | float | None

_INT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def _leading_zero(cell: str) -> bool:
    digits = cell.lstrip("+-")
    return len(digits) > 1 and digits[0] == "0" and digits[1].isdigit()


def _column_kind(cells: list[str]) -> type:
    filled = [c for c in cells if c]
    if not filled or any(_leading_zero(c) for c in filled):
        return str
    if all(_INT.match(c) for c in filled):
        return int
    if all(_FLOAT.match(c) for c in filled):
        return float
    return str


def typed_columns(
    rows: list[dict[str, str]], keep_text: set[str] | frozenset[str] = frozenset()
) -> list[dict[str, MetadataValue]]:
    """``rows`` with each column converted to int, float or str by its cells (``keep_text`` columns: str)."""
    columns = list(rows[0]) if rows else []
    kinds = {col: _column_kind([(r.get(col) or "").strip() for r in rows]) for col in columns}
    kinds.update({col: str for col in keep_text if col in kinds})
    out: list[dict[str, MetadataValue]] = []
    for r in rows:
        typed: dict[str, MetadataValue] = {}
        for col in columns:
            cell = r.get(col)
            kind = kinds[col]
            if cell is None or (kind is not str and not cell.strip()):
                typed[col] = None
            elif kind is int:
                typed[col] = int(cell)
            elif kind is float:
                typed[col] = float(cell)
            else:
                typed[col] = cell
        out.append(typed)
    return out


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (as text) of a CSV file; a clear error when it is missing or has no header."""
    if not path.is_file():
        raise RobustEvalError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise RobustEvalError(f"{path}: empty CSV file (expected a header line)")
        rows = [{k.strip(): v for k, v in row.items() if k is not None} for row in reader]
    if len(set(header)) != len(header):
        raise RobustEvalError(f"{path}: repeated column names in the header {header}")
    return header, rows


def read_metadata_table(path: Path) -> dict[str, dict[str, MetadataValue]]:
    """Extra per-case metadata: a CSV with a ``case_id`` column; returns case_id -> {column: value}."""
    header, rows = read_table(path)
    if "case_id" not in header:
        raise RobustEvalError(f"{path}: a metadata table needs a 'case_id' column; it has {header}")
    table: dict[str, dict[str, MetadataValue]] = {}
    for row in typed_columns(rows, keep_text={"case_id", "subject_id", "site", "scanner"}):
        case_id = str(row.pop("case_id") or "")
        if case_id in table:
            raise RobustEvalError(f"{path}: case_id {case_id!r} appears twice")
        table[case_id] = row
    return table
