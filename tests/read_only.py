"""Read-only arrays as a Ray worker receives them: the two ways an input can refuse writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray


def _flag_read_only(a: NDArray[Any]) -> NDArray[Any]:
    out = np.array(a)
    out.setflags(write=False)
    return out


def _buffer_read_only(a: NDArray[Any]) -> NDArray[Any]:
    """A read-only view of an immutable buffer, as Ray's zero-copy deserialization returns."""
    c = np.ascontiguousarray(a)
    return np.frombuffer(c.tobytes(), dtype=c.dtype).reshape(c.shape)


READ_ONLY: dict[str, Callable[[NDArray[Any]], NDArray[Any]]] = {
    "setflags": _flag_read_only,
    "buffer": _buffer_read_only,
}
