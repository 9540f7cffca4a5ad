"""Progress display: a rich bar on a terminal, plain periodic lines otherwise (logs, CI)."""

from __future__ import annotations

__all__ = ["progress_reporter"]

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PLAIN_EVERY_S = 10.0


def _status(done: int, total: int, elapsed_s: float) -> str:
    """``done/total items, rate items/s, ETA s`` (rate and ETA from the mean rate so far)."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    eta = f"{(total - done) / rate:.0f}s" if rate > 0 else "?"
    return f"{done}/{total} items, {rate:.2f} items/s, ETA {eta}"


@contextmanager
def progress_reporter(total: int, log: Callable[[str], None]) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``: items done/total, throughput (items/s) and ETA, on stderr."""
    t0 = time.perf_counter()
    state = {"done": 0, "last": t0}
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            "[bold]work items",
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("items", total=total, status=_status(0, total, 0.0))

            def advance_bar(n: int) -> None:
                state["done"] += n
                status = _status(int(state["done"]), total, time.perf_counter() - t0)
                bar.update(task, advance=n, status=status)

            yield advance_bar
        return

    def advance(n: int) -> None:
        state["done"] += n
        now = time.perf_counter()
        if now - state["last"] >= PLAIN_EVERY_S or state["done"] >= total:
            state["last"] = now
            log("  " + _status(int(state["done"]), total, now - t0))

    yield advance
