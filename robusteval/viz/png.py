"""Saving figures: PNG bytes without software metadata, so that the same figure gives the same file."""

from __future__ import annotations

__all__ = ["DPI", "MAX_WIDTH_IN", "png_bytes", "save_png", "suptitle"]

import io
import textwrap
import warnings
from pathlib import Path

from matplotlib.figure import Figure

from robusteval.rundir import MAX_IMAGE_WIDTH_PX

DPI = 110
MAX_WIDTH_IN = MAX_IMAGE_WIDTH_PX / DPI
"""The widest figure, in inches, that the report shows at its own size when saved at :data:`DPI`."""


def suptitle(fig: Figure, *parts: str, fontsize: float = 8.0) -> None:
    """The figure's title: ``parts`` one after the other, each wrapped to the figure's width (never cut)."""
    width = max(20, int(fig.get_figwidth() * 100 / fontsize))  # characters of ~0.55 em that fit the width
    fig.suptitle("\n".join(line for part in parts for line in textwrap.wrap(part, width)), fontsize=fontsize)


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (deterministic: no software metadata); layouts that cannot fit are kept."""
    buf = io.BytesIO()
    with warnings.catch_warnings():  # constrained / tight layouts that cannot fit long names: drawn as is
        warnings.simplefilter("ignore", UserWarning)
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def save_png(fig: Figure, path: Path, dpi: int = DPI) -> Path:
    """Write the figure to ``path`` (parents created) as :func:`png_bytes`; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(fig, dpi))
    return path
