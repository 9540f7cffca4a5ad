"""Output records: flat dicts of JSON values (NaN and infinities become ``None``; numpy scalars unwrapped)."""

from __future__ import annotations

__all__ = ["Record", "clean", "clean_value"]

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

Record = dict[str, Any]


def clean_value(value: Any) -> Any:
    """One JSON-ready value: numpy scalars unwrapped, non-finite floats -> ``None``, tuples -> lists."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Enum):  # a status: recorded by its name
        value = value.value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, list | tuple | np.ndarray):
        return [clean_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): clean_value(v) for k, v in value.items()}
    return str(value)


def clean(record: Mapping[str, Any]) -> Record:
    """A copy of ``record`` with every value passed through :func:`clean_value`."""
    return {str(k): clean_value(v) for k, v in record.items()}
