"""The report keeps each chart's PNG in the run folder, keyed by its inputs and drawing code: a re-render with
nothing changed embeds the stored bytes (identical page, nothing drawn); a changed input is drawn anew."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from robusteval.report import render_report
from robusteval.rundir import FIGURE_CACHE


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("drawn although stored")


def test_a_rerender_embeds_the_stored_figures(minimal_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = render_report(minimal_run).read_bytes()
    stored = sorted((minimal_run / FIGURE_CACHE).iterdir())
    assert stored
    monkeypatch.setattr(Figure, "savefig", _refuse)  # every figure was drawn by the first render, and stored
    assert render_report(minimal_run).read_bytes() == first
    assert sorted((minimal_run / FIGURE_CACHE).iterdir()) == stored


def test_a_damaged_or_stale_figure_is_drawn_again(minimal_run: Path) -> None:
    first = render_report(minimal_run).read_bytes()
    folder = minimal_run / FIGURE_CACHE
    for path in folder.glob("*.png"):
        path.write_bytes(b"not a png")
    (folder / "0123456789abcdef0123456789abcdef.png").write_bytes(b"\x89PNG\r\n\x1a\nold")  # no longer used
    assert render_report(minimal_run).read_bytes() == first
    assert not (folder / "0123456789abcdef0123456789abcdef.png").exists()
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in folder.glob("*.png"))


def test_changed_records_are_drawn_anew(minimal_run: Path) -> None:
    render_report(minimal_run)
    before = {p.name for p in (minimal_run / FIGURE_CACHE).iterdir()}
    cases = minimal_run / "cases.csv"
    lines = cases.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[1].rstrip("\n").split(",")
    row[header.index("dsc")] = "0.123"
    cases.write_text("".join([lines[0], ",".join(row) + "\n", *lines[2:]]))
    render_report(minimal_run)
    after = {p.name for p in (minimal_run / FIGURE_CACHE).iterdir()}
    assert after != before  # the distribution figure of the edited cases has another key; the old one is gone
