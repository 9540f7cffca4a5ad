"""Shared benchmark helpers: a row type and a best-of-N timer."""

from __future__ import annotations

__all__ = ["BenchRow", "best_of"]

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchRow:
    """One comparison: ours against a peer on the same input, as a speed ratio (peer_s / ours_s)."""

    name: str
    ours_s: float
    peer: str
    peer_s: float
    goal: str = ""

    @property
    def ratio(self) -> float:
        return self.peer_s / self.ours_s if self.ours_s > 0 else float("inf")


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time in seconds over ``repeat`` calls (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
