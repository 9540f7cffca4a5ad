"""Progress: plain lines off a terminal (every PLAIN_EVERY_S and at the end), a rich bar on one."""

from __future__ import annotations

import io

import pytest

from robusteval.engine import progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_give_done_total_rate_and_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False)
    lines: list[str] = []
    with progress.progress_reporter(40, lines.append) as advance:
        clock.now += 5
        advance(4)  # 5 s in: too soon for a line
        clock.now += 5
        advance(6)  # 10 s in: 10 done, 1 item/s, 30 left
        clock.now += 30
        advance(30)  # the end always prints
    assert lines == ["  10/40 items, 1.00 items/s, ETA 30s", "  40/40 items, 1.00 items/s, ETA 0s"]


def test_rich_bar_on_a_terminal_shows_the_same_status(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: True)
    out = io.StringIO()
    monkeypatch.setattr(progress.sys, "stderr", out)  # rich's Console(stderr=True) writes here
    out.isatty = lambda: True  # type: ignore[method-assign]
    lines: list[str] = []
    with progress.progress_reporter(8, lines.append) as advance:
        clock.now += 4
        advance(2)
    assert "2/8 items, 0.50 items/s, ETA 12s" in out.getvalue()  # the bar's last refresh, on stderr
    assert lines == []  # nothing logged as plain lines on a terminal
