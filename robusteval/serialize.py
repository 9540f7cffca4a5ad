"""JSON output shared by the stages: NaN/Inf become null, numpy scalars become Python numbers."""

from __future__ import annotations

__all__ = ["json_safe"]

import math
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None, tuples as lists, dict keys as str and numpy scalars unboxed."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value
