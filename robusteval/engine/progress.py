"""Progress display: a rich bar on a terminal, plain periodic lines otherwise (logs, CI)."""

from __future__ import annotations

__all__ = ["progress_reporter"]

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PLAIN_EVERY_S = 10.0


@contextmanager
def progress_reporter(total: int, log: Callable[[str], None]) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``; shows items done/total, throughput and ETA."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

        with Progress(
            "[bold]work items",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("items", total=total)
            yield lambda n: bar.advance(task, n)
        return
    t0 = time.perf_counter()
    state = {"done": 0, "last": t0}

    def advance(n: int) -> None:
        state["done"] += n
        now = time.perf_counter()
        if now - state["last"] >= PLAIN_EVERY_S or state["done"] >= total:
            state["last"] = now
            rate = state["done"] / max(now - t0, 1e-9)
            eta = (total - state["done"]) / rate if rate > 0 else float("inf")
            log(f"  {state['done']}/{total} items, {rate:.2f} items/s, ETA {eta:.0f}s")

    yield advance
