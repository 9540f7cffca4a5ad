"""Report figures (matplotlib/seaborn on bare Agg figures), one function per figure.

Every figure function takes plain tables (``pandas.DataFrame`` built from ``summary.json`` records or
``cases.csv``) and returns a :class:`~matplotlib.figure.Figure`, or ``None`` when its inputs are absent.
:func:`figure_to_data_uri` turns a figure into a PNG data URI so that the report is one offline file.
Text is drawn with math parsing off: model, site and shift names are shown as written, never interpreted.
The human baseline (models named in a figure's ``human`` argument, or rows of family ``human``) is drawn in
grey, dashed where it is a line, and labelled ``human baseline (<name>)``: the ceiling beside the models.
"""

from __future__ import annotations

__all__ = [
    "HUMAN_COLOUR",
    "SEVERITY_COLUMN",
    "condition_sort_key",
    "degradation_figure",
    "degradation_heatmap",
    "distribution_figure",
    "efficiency_figure",
    "figure_to_data_uri",
    "forest_figure",
    "label_noise_figure",
    "lesion_size_figure",
    "model_label",
    "model_palette",
    "rank_blob_figure",
    "significance_map_figure",
]

import base64
import io
import math
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from robusteval.protocol.schema import HUMAN_FAMILY

SEVERITY_COLUMN = "severity"
_STYLE: dict[Any, Any] = {
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

P = ParamSpec("P")
R = TypeVar("R")


def _styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a figure function under the report's matplotlib style (math text off, small fonts)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(_STYLE):
            return fn(*args, **kwargs)

    return wrapper


def figure_to_data_uri(fig: Figure, dpi: int = 110) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (deterministic bytes: no software metadata)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():  # a layout that cannot fit long names is drawn as is
        warnings.filterwarnings("ignore", "constrained_layout not applied", UserWarning)
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _short(text: str, limit: int = 24) -> str:
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
    colours = sns.color_palette("colorblind", max(len(machines), 1))
    palette: dict[str, Any] = {m: colours[i % len(colours)] for i, m in enumerate(machines)}
    palette.update({m: to_rgb(HUMAN_COLOUR) for m in models if m in human})
    return palette


def _grid(n: int, ncols: int, width: float, height: float, **kwargs: Any) -> tuple[Figure, list[Any]]:
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = Figure(layout="constrained", figsize=(width * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _legend_below(fig: Figure, handles: list[Any], labels: list[str]) -> None:
    if handles:
        short = [_short(str(label)) for label in labels]
        fig.legend(handles, short, loc="outside lower center", ncols=min(len(labels), 6), frameon=False)


@_styled
def degradation_figure(
    cells: pd.DataFrame,
    metric: str,
    models: Sequence[str] | None = None,
    human: Collection[str] = (),
) -> Figure | None:
    """Mean ``metric`` against severity, one panel per simulated shift, one line per model, CI bands.

    ``cells`` holds the summary's cell records. Severity 0 is the model's ID clean cell; label-noise shifts
    are left out (they perturb the reference, not the image). A ``human`` baseline (annotated on the clean
    images only) is its ID clean mean as a dashed horizontal line with its CI band, across every severity.
    None when there is no simulated shift.
    """
    m = cells[(cells["metric"] == metric) & cells["site"].isna()]
    clean = m[(m["shift"] == "clean") & (m["split"] == "id")]
    shifted = m[(m["shift"] != "clean") & (m["shift_family"] != "label_noise")]
    shifts = sorted(shifted["shift"].unique())
    if not shifts:
        return None
    order = list(models) if models else sorted(m["model"].unique())
    palette = model_palette(order, human)
    fig, axes = _grid(len(shifts), 3, 3.6, 2.7, sharey=True)
    for ax, shift in zip(axes, shifts, strict=True):
        data = pd.concat([clean.assign(shift=shift), shifted[shifted["shift"] == shift]])
        for model in order:
            g = data[data["model"] == model].sort_values(SEVERITY_COLUMN)
            if model in human:
                _ceiling(ax, clean[clean["model"] == model], model_label(model, human), palette[model])
                continue
            if g.empty:
                continue
            ax.plot(
                g[SEVERITY_COLUMN],
                g["mean"],
                marker="o",
                ms=3.5,
                lw=1.4,
                label=_short(model),
                color=palette[model],
            )
            ax.fill_between(
                g[SEVERITY_COLUMN],
                g["ci_low"].astype(float),
                g["ci_high"].astype(float),
                alpha=0.18,
                color=palette[model],
                lw=0,
            )
        ax.set_title(_short(shift, 40))
        ax.set_xlabel("severity (0 = clean)")
        ax.set_ylabel(metric)
        ax.set_xticks(sorted({0.0, *data[SEVERITY_COLUMN].astype(float)}))
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    _legend_below(fig, handles, labels)
    return fig


def _ceiling(ax: Any, cell: pd.DataFrame, label: str, colour: Any) -> None:
    """A human baseline's mean (first row of ``cell``) as a dashed line across the axes, its CI as a band."""
    if cell.empty or not math.isfinite(_float(cell["mean"].iloc[0])):
        return
    ax.axhline(_float(cell["mean"].iloc[0]), color=colour, lw=1.3, ls="--", label=_short(label))
    lo, hi = _float(cell["ci_low"].iloc[0]), _float(cell["ci_high"].iloc[0])
    if math.isfinite(lo) and math.isfinite(hi):
        ax.axhspan(lo, hi, color=colour, alpha=0.1, lw=0)


@_styled
def degradation_heatmap(
    rood: pd.DataFrame,
    metric: str,
    models: Sequence[str] | None = None,
) -> Figure | None:
    """Model x shift ROOD-MRI degradation of ``metric`` (positive = worse than clean), annotated.

    ``rood`` holds robustness records of kind ``rood`` (per shift and the ``mean`` over shifts).
    """
    r = rood[(rood["metric"] == metric) & rood["degradation"].notna()]
    if r.empty:
        return None
    table = r.pivot_table(index="model", columns="shift", values="degradation", aggfunc="first")
    columns = [c for c in sorted(table.columns) if c != "mean"]
    columns += ["mean"] if "mean" in table.columns else []
    rows = [x for x in (models or sorted(table.index)) if x in table.index]
    table = table.loc[rows, columns].rename(columns={"mean": "mean over shifts"})
    width, height = max(4.0, 1.6 + 0.95 * len(columns)), max(2.0, 1.0 + 0.38 * len(rows))
    fig = Figure(layout="constrained", figsize=(width, height))
    ax = fig.subplots()
    values = table.to_numpy(dtype=float)
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    bound = bound or 1.0
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn_r", vmin=-bound, vmax=bound, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if math.isfinite(v):
            dark = abs(v) > 0.6 * bound
            colour = "white" if dark else "black"
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7.5, color=colour)
    ax.set_xticks(range(len(columns)), [_short(str(c)) for c in table.columns], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [_short(r) for r in rows])
    fig.colorbar(image, ax=ax, shrink=0.8, label="+ = worse")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("shift")
    ax.set_ylabel("model")
    ax.set_title(f"{metric}: ROOD-MRI degradation")
    ax.tick_params(axis="y", rotation=0)
    return fig


@_styled
def forest_figure(rows: pd.DataFrame, xlabel: str, title: str = "") -> Figure | None:
    """Forest plot: one row per difference with its CI, top to bottom in the given order.

    ``rows`` columns: ``label``, ``estimate``, ``ci_low``, ``ci_high`` and ``status`` (``better``/``worse``:
    significant after correction in that direction, anything else: not significant or not tested).
    """
    if rows.empty:
        return None
    n = len(rows)
    fig = Figure(layout="constrained", figsize=(7.6, 0.9 + 0.24 * n))
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    colours = {"better": BETTER, "worse": WORSE}
    for yi, (_, r) in zip(y, rows.iterrows(), strict=True):
        colour = colours.get(str(r["status"]), NEUTRAL)
        est = _float(r["estimate"])
        lo, hi = _float(r["ci_low"]), _float(r["ci_high"])
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [yi, yi], color=colour, lw=1.6, solid_capstyle="butt")
        if math.isfinite(est):
            filled = str(r["status"]) in colours
            ax.plot([est], [yi], "o", ms=4.5, color=colour, mfc=colour if filled else "white", mew=1.2)
    ax.axvline(0.0, color="#57606a", lw=0.8, ls="--")
    ax.set_yticks(y, [_short(str(v), 72) for v in rows["label"]])
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def _float(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


@_styled
def distribution_figure(
    cases: pd.DataFrame, metric: str, models: Sequence[str], human: Collection[str] = ()
) -> Figure | None:
    """Box and strip plots of per-case ``metric`` per model: one panel for the clean cases by site, one per
    simulated shift by severity (failed rows and label-noise conditions left out; a ``human`` baseline, in
    grey, has the clean panel only)."""
    ok = cases[(cases["status"] == "ok") & (cases["shift_family"] != "label_noise")]
    ok = ok[pd.to_numeric(ok[metric], errors="coerce").notna()] if metric in ok else ok.iloc[0:0]
    if ok.empty:
        return None
    panels: list[tuple[str, pd.DataFrame, str, list[Any]]] = []
    clean = ok[ok["shift"] == "clean"]
    if not clean.empty:
        sites = zip(clean["site"], clean["split"], strict=True)
        key: list[str] = [f"{s} (ID)" if sp == "id" else str(s) for s, sp in sites]
        order: list[Any] = sorted(set(key), key=lambda k: (not k.endswith("(ID)"), k))
        panels.append(("clean cases by site", clean.assign(_x=key), "site", order))
    for shift in sorted(ok.loc[ok["shift"] != "clean", "shift"].unique()):
        part = ok[ok["shift"] == shift]
        sev = part[SEVERITY_COLUMN].astype(float)
        panels.append((str(shift), part.assign(_x=sev), "severity", sorted(set(sev))))
    palette = model_palette(models, human)
    present = [m for m in models if m in set(ok["model"])]
    fig, axes = _grid(len(panels), 3, 3.7, 2.8, sharey=True)
    width = 0.8 / max(len(present), 1)
    rng = np.random.default_rng(0)
    for ax, (title, data, xlabel, order) in zip(axes, panels, strict=True):
        by_key = {(str(k[0]), k[1]): g.to_numpy(float) for k, g in data.groupby(["model", "_x"])[metric]}
        for mi, model in enumerate(present):
            offset = (mi - (len(present) - 1) / 2) * width
            groups = [by_key.get((model, x), np.empty(0)) for x in order]
            pos = [i + offset for i, g in enumerate(groups) if g.size]
            vals = [g for g in groups if g.size]
            if not vals:
                continue
            colour = palette[model]
            box = ax.boxplot(
                vals,
                positions=pos,
                widths=width * 0.85,
                patch_artist=True,
                showfliers=False,
                orientation="vertical",
                manage_ticks=False,
            )
            for patch in box["boxes"]:
                patch.set(facecolor=(*colour[:3], 0.25), edgecolor=colour, lw=0.9)
            for part in ("medians", "whiskers", "caps"):
                for line in box[part]:
                    line.set(color=colour, lw=0.9)
            for p, v in zip(pos, vals, strict=True):
                jitter = rng.uniform(-width * 0.3, width * 0.3, v.size)
                ax.scatter(p + jitter, v, s=5, color=colour, alpha=0.75, lw=0, zorder=3)
        ticks = [f"{x:g}" if isinstance(x, float) else _short(str(x)) for x in order]
        ax.set_xticks(range(len(order)), ticks)
        ax.set_title(_short(title, 40))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric)
        ax.grid(axis="y", alpha=0.3)
    labels = [model_label(m, human) for m in present]
    handles = [Patch(facecolor=palette[m], label=_short(lab)) for m, lab in zip(present, labels, strict=True)]
    _legend_below(fig, handles, labels)
    return fig


@_styled
def significance_map_figure(
    sig: pd.DataFrame,
    conditions: Sequence[str],
    models: Sequence[str],
    human: Collection[str] = (),
) -> Figure | None:
    """challengeR significance maps: per condition, a filled square where the row model is significantly
    better than the column model (one-sided Wilcoxon, adjusted within the condition).

    ``sig`` holds the model-vs-model records of kind ``significance`` with a ``panel`` column naming the
    condition; ``conditions`` are the panels to draw.
    """
    if sig.empty or len(models) < 2 or not conditions:
        return None
    n = len(models)
    size = 0.9 + 0.32 * n
    fig, axes = _grid(len(conditions), 4, max(size, 2.4), max(size, 2.4))
    cmap = ListedColormap(["#f6f8fa", "#0969da"])
    for ax, cond in zip(axes, conditions, strict=True):
        part = sig[sig["panel"] == cond]
        grid = np.full((n, n), np.nan)
        for _, r in part.iterrows():
            if r["model"] in models and r["other"] in models:
                filled = 1.0 if r["significant"] is True else 0.0
                grid[models.index(r["model"]), models.index(r["other"])] = filled
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1)
        for i in range(n):
            ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, color="#d0d7de"))
        names = [_short(model_label(m, human), 24) for m in models]
        ax.set_xticks(range(n), names, rotation=60, ha="right")
        ax.set_yticks(range(n), names)
        for k in range(n + 1):
            ax.axhline(k - 0.5, color="white", lw=1.0)
            ax.axvline(k - 0.5, color="white", lw=1.0)
        ax.set_title(_short(cond, 28))
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.supylabel("model (row) ...", fontsize=8)
    fig.supxlabel("... is significantly better than (column): filled", fontsize=8)
    return fig


@_styled
def rank_blob_figure(
    ranks: pd.DataFrame, conditions: Sequence[str], models: Sequence[str], human: Collection[str] = ()
) -> Figure | None:
    """challengeR blob plot: per condition and model, a disc per bootstrap rank with area proportional to its
    probability, the median rank (black dot) and its percentile interval (black line).

    ``ranks`` holds rank records (kind ``rank``) with a ``panel`` column naming the condition.
    """
    if ranks.empty or len(models) < 2 or not conditions:
        return None
    palette = model_palette(models, human)
    width = min(max(4.5, 1.5 + 0.3 * len(conditions) * len(models)), 11.0)
    fig = Figure(layout="constrained", figsize=(width, 3.6))
    ax = fig.subplots()
    width = 0.8 / len(models)
    for ci, cond in enumerate(conditions):
        part = ranks[ranks["panel"] == cond]
        for mi, model in enumerate(models):
            rec = part[part["model"] == model]
            if rec.empty:
                continue
            r = rec.iloc[0]
            x = ci + (mi - (len(models) - 1) / 2) * width
            for pos in range(1, len(models) + 1):
                p = _float(r.get(f"p_rank_{pos}"))
                if math.isfinite(p) and p > 0:
                    ax.scatter([x], [pos], s=160 * p, color=palette[model], alpha=0.75, lw=0)
            lo, hi = _float(r.get("rank_ci_low")), _float(r.get("rank_ci_high"))
            if math.isfinite(lo) and math.isfinite(hi):
                ax.plot([x, x], [lo, hi], color="black", lw=0.9)
            ax.plot([x], [_float(r.get("median_rank"))], "o", color="black", ms=2.5)
    ax.set_xticks(range(len(conditions)), [_short(c) for c in conditions], rotation=35, ha="right")
    ax.set_yticks(range(1, len(models) + 1))
    ax.set_ylim(len(models) + 0.6, 0.4)
    ax.set_ylabel("rank (1 = best)")
    ax.grid(axis="y", alpha=0.3)
    _dot_legend(fig, models, palette, human)
    return fig


def _dot_legend(fig: Figure, models: Sequence[str], palette: Mapping[str, Any], human: Collection[str]) -> None:
    labels = [model_label(m, human) for m in models]
    handles = [Line2D([], [], marker="o", ls="", color=palette[m]) for m in models]
    _legend_below(fig, handles, labels)


@_styled
def lesion_size_figure(
    cells: pd.DataFrame, bins: Mapping[str, str], models: Sequence[str], human: Collection[str] = ()
) -> Figure | None:
    """Lesion recall per size bin (x) and model (colour) with CIs, one panel per condition.

    ``cells`` holds cell records with a ``panel`` column (the condition label, panels in first-seen order);
    ``bins`` maps each metric column (e.g. ``lesion_recall_small``) to its bin label.
    """
    part = cells[cells["metric"].isin(list(bins))]
    if part.empty:
        return None
    panels = list(dict.fromkeys(part["panel"]))
    palette = model_palette(models, human)
    fig, axes = _grid(len(panels), 3, 3.5, 2.7, sharey=True)
    width = 0.8 / max(len(models), 1)
    metrics = list(bins)
    for ax, panel in zip(axes, panels, strict=True):
        p = part[part["panel"] == panel]
        for mi, model in enumerate(models):
            xs, ys, lo, hi = [], [], [], []
            for bi, metric in enumerate(metrics):
                rec = p[(p["model"] == model) & (p["metric"] == metric)]
                if rec.empty or not math.isfinite(_float(rec.iloc[0]["mean"])):
                    continue
                r = rec.iloc[0]
                xs.append(bi + (mi - (len(models) - 1) / 2) * width)
                ys.append(_float(r["mean"]))
                lo.append(_float(r["ci_low"]))
                hi.append(_float(r["ci_high"]))
            if not xs:
                continue
            yerr = np.array(
                [
                    [max(y - a, 0.0) if math.isfinite(a) else 0.0 for y, a in zip(ys, lo, strict=True)],
                    [max(b - y, 0.0) if math.isfinite(b) else 0.0 for y, b in zip(ys, hi, strict=True)],
                ]
            )
            colour = palette[model]
            ax.errorbar(xs, ys, yerr=yerr, fmt="o", ms=4, color=colour, capsize=2, lw=1, label=_short(model))
        ax.set_xticks(range(len(metrics)), [bins[m] for m in metrics])
        ax.set_title(_short(panel, 40))
        ax.set_ylabel("lesion recall")
        ax.set_ylim(-0.03, 1.05)
        ax.grid(axis="y", alpha=0.3)
    _dot_legend(fig, models, palette, human)
    return fig


@_styled
def label_noise_figure(
    moves: pd.DataFrame,
    taus: pd.DataFrame,
    metric: str,
    models: Sequence[str],
    human: Collection[str] = (),
) -> Figure | None:
    """Left: per noise condition, how far each model's mean moves when scored against the noisy reference.
    Right: Kendall's tau between the model rankings under the clean and the noisy reference.

    ``moves``: records of kind ``label_noise_mean`` (``noise``, ``model``, ``move``); ``taus``: records of
    kind ``label_noise_ranking`` (``noise``, ``kendall_tau``); both for ``metric``.
    """
    if moves.empty:
        return None
    noises = sorted(set(moves["noise"]), key=condition_sort_key)
    palette = model_palette(models, human)
    has_tau = not taus.empty and taus["kendall_tau"].notna().any()
    fig = Figure(layout="constrained", figsize=(4.4 + 0.35 * len(noises) + (3.6 if has_tau else 0.0), 3.2))
    axes = fig.subplots(1, 2 if has_tau else 1, squeeze=False, width_ratios=[1.6, 1] if has_tau else None)[0]
    ax = axes[0]
    x = np.arange(len(noises))
    for model in models:
        g = moves[moves["model"] == model].set_index("noise").reindex(noises)
        colour, style = palette[model], "--" if model in human else "-"
        label = _short(model_label(model, human))
        ax.plot(x, g["move"].astype(float), marker="o", ms=3.5, lw=1.2, ls=style, color=colour, label=label)
    ax.axhline(0.0, color="#57606a", lw=0.8, ls="--")
    ax.set_xticks(x, [_short(n) for n in noises], rotation=35, ha="right")
    ax.set_ylabel(f"{metric}: noisy - clean reference")
    ax.set_title("score move under a noisy reference")
    ax.grid(alpha=0.3)
    if has_tau:
        t = taus.set_index("noise").reindex(noises)
        ax2 = axes[1]
        ax2.bar(x, t["kendall_tau"].astype(float), color="#0969da", alpha=0.8)
        ax2.set_xticks(x, [_short(n) for n in noises], rotation=35, ha="right")
        ax2.set_ylim(-1.05, 1.05)
        ax2.axhline(1.0, color="#57606a", lw=0.8, ls=":")
        ax2.set_ylabel("Kendall's tau (ranking clean vs noisy ref.)")
        ax2.set_title("ranking stability")
        ax2.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    _legend_below(fig, handles, labels)
    return fig


def condition_sort_key(label: str) -> tuple[str, float]:
    """Sort ``"<shift>@<severity>"`` labels by shift name, then numerically by severity."""
    name, _, sev = str(label).rpartition("@")
    try:
        return (name, float(sev))
    except ValueError:
        return (str(label), 0.0)


@_styled
def efficiency_figure(perf: pd.DataFrame, metric: str) -> Figure | None:
    """Performance against parameter count (log scale): ID mean with CI (filled) and OOD mean (hollow).

    ``perf`` columns: ``model``, ``family``, ``parameters``, ``id_mean``, ``id_low``, ``id_high``,
    ``ood_mean``. None when no model has a parameter count. A human baseline (family ``human``, no
    parameters) is its ID mean as a dashed horizontal line with its CI band.
    """
    p = perf[pd.to_numeric(perf["parameters"], errors="coerce") > 0]
    if p.empty:
        return None
    humans = perf[perf["family"].astype(str) == HUMAN_FAMILY]
    families = sorted({str(f) for f in p["family"]})
    colours = dict(zip(families, sns.color_palette("colorblind", max(len(families), 1)), strict=False))
    fig = Figure(layout="constrained", figsize=(6.0, 3.6))
    ax = fig.subplots()
    for _, r in p.iterrows():
        x = float(r["parameters"])
        c = colours[str(r["family"])]
        y, lo, hi = _float(r["id_mean"]), _float(r["id_low"]), _float(r["id_high"])
        if math.isfinite(y):
            err = [[y - lo if math.isfinite(lo) else 0.0], [hi - y if math.isfinite(hi) else 0.0]]
            ax.errorbar([x], [y], yerr=err, fmt="o", color=c, ms=6, capsize=2)
            name = _short(str(r["model"]))
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=7.5)
        oy = _float(r["ood_mean"])
        if math.isfinite(oy):
            ax.plot([x], [oy], "o", mfc="white", color=c, ms=6, mew=1.4)
            if math.isfinite(y):
                ax.plot([x, x], [y, oy], color=c, lw=0.8, ls=":")
    for _, r in humans.iterrows():
        cell = pd.DataFrame({"mean": [r["id_mean"]], "ci_low": [r["id_low"]], "ci_high": [r["id_high"]]})
        _ceiling(ax, cell, model_label(str(r["model"]), {str(r["model"])}), HUMAN_COLOUR)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3, which="both")
    handles = [Line2D([], [], marker="o", ls="", color=colours[f], label=_short(f)) for f in families]
    handles += [h for h in ax.get_lines() if str(h.get_linestyle()) == "--"]
    handles += [
        Line2D([], [], marker="o", ls="", color="black", label="in distribution (95% CI)"),
        Line2D([], [], marker="o", ls="", mfc="white", color="black", label="OOD mean"),
    ]
    ax.legend(handles=handles, loc="best", frameon=False)
    return fig


@_styled
def breaking_point_figure(points: Sequence[Mapping[str, Any]], models: Sequence[str]) -> Figure | None:
    """Dot plot of breaking points: one panel per (shift, parameter), one row per model, the point with its
    case-bootstrap interval. A model that does not break within the searched range is drawn as an open
    triangle at the range's end (``>``); an interval whose upper bound is beyond the range ends in an arrow.

    ``points``: the ``summary["search"]["breaking_points"]`` records (``value``, ``ci_low``, ``ci_high`` and
    ``far``, the end of the searched range; ``value`` None when the model did not break within it)."""
    panels: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for p in points:
        panels.setdefault((str(p.get("shift")), str(p.get("parameter"))), []).append(p)
    if not panels:
        return None
    palette = model_palette(models)
    fig, axes = _grid(len(panels), 2, 4.6, 0.8 + 0.38 * len(models))
    for ax, ((shift, param), recs) in zip(axes, sorted(panels.items()), strict=True):
        far = max((_float(r.get("far")) for r in recs), default=math.nan)
        names = [m for m in models if any(str(r.get("model")) == m for r in recs)]
        for yi, model in enumerate(reversed(names)):
            r = next(r for r in recs if str(r.get("model")) == model)
            colour = palette.get(model, NEUTRAL)
            v, lo, hi = _float(r.get("value")), _float(r.get("ci_low")), _float(r.get("ci_high"))
            if not math.isfinite(v):
                if math.isfinite(far):
                    ax.plot([far], [yi], ">", ms=7, mfc="white", color=colour, mew=1.4)
                continue
            right = hi if math.isfinite(hi) else far
            if math.isfinite(lo) and math.isfinite(right):
                ax.plot([lo, right], [yi, yi], color=colour, lw=1.8, solid_capstyle="butt")
                if not math.isfinite(hi):
                    ax.plot([right], [yi], ">", ms=5, color=colour)
            ax.plot([v], [yi], "o", ms=6, color=colour)
        if math.isfinite(far):
            ax.axvline(far, color="#57606a", lw=0.8, ls=":")
        ax.set_yticks(range(len(names)), [_short(m) for m in reversed(names)])
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.set_xlabel(param)
        ax.set_title(f"{shift}: breaking point (dotted: end of range)")
        ax.grid(axis="x", alpha=0.3)
    return fig


@_styled
def search_trace_figure(points: Sequence[Mapping[str, Any]], models: Sequence[str]) -> Figure | None:
    """The breaking-point search trace: the objective at each evaluated parameter value per model, one panel per
    (shift, parameter), with each model's break threshold (dashed)."""
    panels: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for p in points:
        if p.get("points"):
            panels.setdefault((str(p.get("shift")), str(p.get("parameter"))), []).append(p)
    if not panels:
        return None
    palette = model_palette(models)
    fig, axes = _grid(len(panels), 2, 4.6, 2.8)
    handles: dict[str, Any] = {}
    for ax, ((shift, param), recs) in zip(axes, sorted(panels.items()), strict=True):
        for r in recs:
            model = str(r.get("model"))
            colour = palette.get(model, NEUTRAL)
            trace = sorted((_float(t.get("value")), _float(t.get("objective"))) for t in r["points"])
            (line,) = ax.plot([t[0] for t in trace], [t[1] for t in trace], "o-", ms=3, lw=1.2, color=colour)
            handles.setdefault(model, line)
            if math.isfinite(_float(r.get("threshold"))):
                ax.axhline(_float(r.get("threshold")), color=colour, lw=0.8, ls="--")
        ax.set_xlabel(param)
        ax.set_ylabel(f"{recs[0].get('objective', 'objective')} ({recs[0].get('metric', '')})")
        ax.set_title(f"{shift}: objective along the search")
        ax.grid(alpha=0.3)
    _legend_below(fig, list(handles.values()), list(handles))
    return fig
