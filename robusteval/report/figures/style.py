"""The report figures' shared style: fonts, colours, the model palette, grids, legends, PNG data URIs.

Every figure function runs under :data:`STYLE` (via :func:`styled`): math text off, so model, site and shift
names are drawn verbatim, and font sizes legible at 100 % zoom. Figures are bare
:class:`~matplotlib.figure.Figure` objects (no pyplot state, no backend switch). The human baseline is grey,
dashed where it is a line, and labelled ``human baseline (<name>)``.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import matplotlib
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from robusteval.rundir import MAX_IMAGE_WIDTH_PX

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BETTER",
    "COLORBLIND",
    "DPI",
    "HUMAN_COLOUR",
    "MAX_WIDTH_IN",
    "NEUTRAL",
    "SEVERITY_COLUMN",
    "STYLE",
    "WORSE",
    "as_float",
    "ceiling",
    "dot_legend",
    "figure_to_data_uri",
    "grid",
    "legend_below",
    "model_label",
    "model_palette",
    "png_bytes",
    "short",
    "styled",
]

SEVERITY_COLUMN = "severity"
DPI = 110
MAX_WIDTH_IN = MAX_IMAGE_WIDTH_PX / DPI
"""The widest figure, in inches: the page's column at :data:`DPI`, so the page shows every figure at its own
size (100 %) and its 7.5-point labels stay about 11 pixels high."""
STYLE: dict[Any, Any] = {
    "text.parse_math": False,  # names such as "a$b$" are drawn verbatim
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
}
BETTER, WORSE, NEUTRAL = "#1a7f37", "#cf222e", "#8c959f"
HUMAN_COLOUR = "#57606a"  # the human baseline: a dark neutral grey, dashed where it is a line
COLORBLIND = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133",
              "#56b4e9")  # fmt: skip
"""seaborn's ``colorblind`` palette (its 10 colours, in its order), without importing seaborn."""

P = ParamSpec("P")
R = TypeVar("R")


def styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a figure function under the report's matplotlib style (math text off, small fonts)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (deterministic: no software metadata)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():  # a layout that cannot fit long names is drawn as is
        warnings.filterwarnings("ignore", "constrained_layout not applied", UserWarning)
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def figure_to_data_uri(fig: Figure, dpi: int = DPI) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (:func:`png_bytes`)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig, dpi)).decode("ascii")


def short(text: str, limit: int = 24) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (long names must not squeeze the axes)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def model_label(model: str, human: Collection[str] = ()) -> str:
    """A model's name in figures and sentences; a human baseline says so: ``human baseline (rater2)``."""
    if model not in human or "human" in model.lower():
        return model
    return f"human baseline ({model})"


def model_palette(models: Sequence[str], human: Collection[str] = ()) -> dict[str, Any]:
    """A stable colour per model (colorblind palette, in the given order); the ``human`` baselines grey."""
    machines = [m for m in models if m not in human]
    palette: dict[str, Any] = {m: to_rgb(COLORBLIND[i % len(COLORBLIND)]) for i, m in enumerate(machines)}
    palette.update({m: to_rgb(HUMAN_COLOUR) for m in models if m in human})
    return palette


def grid(n: int, ncols: int, width: float, height: float, **kwargs: Any) -> tuple[Figure, list[Any]]:
    """``n`` axes of ``width`` x ``height`` inches in rows of ``ncols`` (narrower panels when a row would be
    wider than :data:`MAX_WIDTH_IN`); the unused cells hidden."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    width = min(width, MAX_WIDTH_IN / ncols)
    fig = Figure(layout="constrained", figsize=(width * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def legend_below(fig: Figure, handles: list[Any], labels: list[str]) -> None:
    """One legend under the panels (names cut to 24 characters), up to six entries a row."""
    if handles:
        names = [short(str(label)) for label in labels]
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(labels), 6), frameon=False)


def ceiling(ax: Any, cell: pd.DataFrame, label: str, colour: Any) -> None:
    """A human baseline's mean (first row of ``cell``) as a dashed line across the axes, its CI as a band."""
    if cell.empty or not math.isfinite(as_float(cell["mean"].iloc[0])):
        return
    ax.axhline(as_float(cell["mean"].iloc[0]), color=colour, lw=1.3, ls="--", label=short(label))
    lo, hi = as_float(cell["ci_low"].iloc[0]), as_float(cell["ci_high"].iloc[0])
    if math.isfinite(lo) and math.isfinite(hi):
        ax.axhspan(lo, hi, color=colour, alpha=0.1, lw=0)


def as_float(value: Any) -> float:
    """``float(value)``, NaN when it is not a number."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def dot_legend(fig: Figure, models: Sequence[str], palette: Mapping[str, Any], human: Collection[str]) -> None:
    """A legend of one coloured dot per model, under the panels."""
    labels = [model_label(m, human) for m in models]
    handles = [Line2D([], [], marker="o", ls="", color=palette[m]) for m in models]
    legend_below(fig, handles, labels)
