"""Figures in the page as PNG data URIs (one offline file): the charts the report draws, and the run folder's
own images.

Drawing the charts is most of a render's time, so each chart's PNG is kept in the run folder
(:data:`~robusteval.rundir.FIGURE_CACHE`) under a key that hashes everything that decides its pixels: the
figure function, the source of its module and of the shared style, matplotlib's and robusteval's versions, and
its inputs. A render whose figure code and records are unchanged embeds the stored bytes, so ``report DIR``
reproduces the run's own ``index.html`` byte for byte without drawing; any change of either draws it anew.
Entries the last render did not use are removed.
"""

from __future__ import annotations

__all__ = ["DPI", "MAX_EMBED_BYTES", "embed_png", "figure", "prune_figures"]

import base64
import hashlib
import json
import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robusteval import __version__
from robusteval.report.figures import style
from robusteval.report.view import RunView
from robusteval.rundir import FIGURE_CACHE, PNG_SIGNATURE

MAX_EMBED_BYTES = 3 * 2**20
DPI = style.DPI


def _plain(value: Any) -> Any:
    """A JSON-able stand-in for a figure input (tables by their columns, dtypes and values)."""
    if isinstance(value, pd.DataFrame):
        return {"columns": [str(c) for c in value.columns], "dtypes": [str(t) for t in value.dtypes],
                "index": value.index.tolist(), "values": value.to_numpy(dtype=object).tolist()}  # fmt: skip
    if isinstance(value, pd.Series):
        return {"name": str(value.name), "index": value.index.tolist(), "values": value.tolist()}
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


@cache
def _code_digest(module: str) -> str:
    """The figure module's and the shared style's source, with the versions that draw them."""
    h = hashlib.sha256(f"{__version__}|{matplotlib.__version__}|{DPI}".encode())
    for path in (sys.modules[module].__file__, style.__file__):
        h.update(Path(str(path)).read_bytes())
    return h.hexdigest()


def _key(draw: Callable[..., Figure | None], args: tuple[Any, ...]) -> str:
    inputs = json.dumps([draw.__module__, draw.__qualname__, args], default=_plain, sort_keys=True)
    return hashlib.sha256((_code_digest(draw.__module__) + inputs).encode()).hexdigest()[:32]


def _png(run: RunView, draw: Callable[..., Figure | None], args: tuple[Any, ...]) -> bytes | None:
    """The figure's PNG bytes (None: ``draw`` had nothing to draw), from the cache or drawn and stored."""
    key = _key(draw, args)
    run.figures_used.add(key)
    folder = run.dir / FIGURE_CACHE
    stored, empty = folder / f"{key}.png", folder / f"{key}.none"
    if empty.is_file():
        return None
    try:
        kept = stored.read_bytes()
        if kept.startswith(PNG_SIGNATURE):
            return kept
    except OSError:
        pass
    fig = draw(*args)
    data = None if fig is None else style.png_bytes(fig, DPI)
    try:
        folder.mkdir(exist_ok=True)
        tmp = folder / f"{key}.{os.getpid()}.tmp"
        tmp.write_bytes(data or b"")
        tmp.replace(empty if data is None else stored)
    except OSError:
        pass  # a read-only folder: the figure is drawn each time
    return data


def figure(
    run: RunView, draw: Callable[..., Figure | None], args: tuple[Any, ...], title: str, alt: str | None = None
) -> dict[str, str] | None:
    """``draw(*args)`` as a captioned figure of the page, or None when it has nothing to draw."""
    data = _png(run, draw, args)
    if data is None:
        return None
    return {"uri": "data:image/png;base64," + base64.b64encode(data).decode("ascii"), "title": title,
            "alt": alt or title}  # fmt: skip


def prune_figures(run: RunView) -> None:
    """Remove the stored figures this render did not use (older records or figure code)."""
    folder = run.dir / FIGURE_CACHE
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name.split(".")[0] not in run.figures_used:
            path.unlink(missing_ok=True)


def embed_png(path: Path, title: str | None = None) -> tuple[dict[str, str] | None, str | None]:
    """A PNG file as a figure dict (captioned ``title``, else its name), or the reason it is not embedded."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"{path.name}: not readable ({exc.strerror})"
    if not data.startswith(PNG_SIGNATURE):
        return None, f"{path.name}: not a PNG file"
    if len(data) > MAX_EMBED_BYTES:
        limit = MAX_EMBED_BYTES // 2**20
        return None, f"{path.name}: {len(data) / 2**20:.1f} MiB, over the {limit} MiB limit"
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return {"uri": uri, "title": title or path.stem, "alt": title or path.stem}, None
