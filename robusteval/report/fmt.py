"""Formatting numbers for the report: metric values, p-values, intervals, counts, tallies."""

from __future__ import annotations

__all__ = ["finite", "fmt_any", "fmt_ci", "fmt_count", "fmt_kv", "fmt_num", "fmt_p", "fmt_rank", "fmt_tally", "missing"]

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

from robusteval.status import STATUSES


def missing(value: Any) -> bool:
    """None or a float NaN (how pandas and JSON spell an absent site)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def finite(value: Any) -> bool:
    """A real number (numpy scalars included, booleans not) that is finite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def fmt_num(value: Any) -> str:
    """A metric value: 3 decimals below 10, fewer above; ``n/a`` for missing or non-finite values."""
    if not finite(value):
        return "n/a" if value is None or isinstance(value, float) else str(value)
    v = float(value)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    if abs(v) >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_p(value: Any) -> str:
    """A p-value: ``<0.001`` or three decimals; ``n/a`` when not tested."""
    if not finite(value):
        return "n/a"
    return "<0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def fmt_ci(low: Any, high: Any) -> str:
    """``[low, high]``, or ``no CI`` when either bound is missing."""
    return f"[{fmt_num(low)}, {fmt_num(high)}]" if finite(low) and finite(high) else "no CI"


def fmt_count(value: Any) -> str:
    """Large counts with an SI suffix (``31.0 M``, ``1.20 G``)."""
    if not finite(value):
        return "n/a"
    v = float(value)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g} {suffix}"
    return f"{v:g}"


def fmt_rank(value: Any) -> str:
    return f"{float(value):g}" if finite(value) else "n/a"


def fmt_any(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return fmt_num(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def fmt_kv(mapping: Any) -> str:
    if not isinstance(mapping, dict) or not mapping:
        return "n/a"
    return ", ".join(f"{k} {f'{v:g}' if isinstance(v, float) else fmt_any(v)}" for k, v in mapping.items())


def fmt_tally(counts: Mapping[str, int]) -> str:
    """``24 rows: 12 ok, 3 failed, 9 unavailable`` (a :func:`status_counts` result)."""
    return f"{counts['rows']} rows: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES)
