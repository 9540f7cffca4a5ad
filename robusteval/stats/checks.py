"""Pass/fail conditions on the results: a registry of check kinds, one function per kind.

Each check gives one record per model with ``status`` PASS, WARN, FAIL or ERROR and a ``message`` sentence
holding its numbers (``"OOD DSC drop 0.08 > 0.05 (95% CI 0.05 to 0.11)"``). Rules for an upper bound ``max``
(mirrored for a lower bound ``min``): FAIL when the estimate is beyond ``max``; WARN when it is within ``max``
but beyond ``warn`` (if given) or when its confidence interval crosses ``max``; PASS otherwise. ERROR when the
check cannot be computed (unknown kind or metric, missing threshold, no data), with the reason.

Adding a kind: write ``def my_check(spec: CheckSpec, ctx: CheckContext) -> list[CheckRecord]`` and register it
with ``CHECKS.add("my_kind", my_check)``.
"""

from __future__ import annotations

__all__ = [
    "CHECKS",
    "CheckContext",
    "CheckFn",
    "max_degradation",
    "max_mean",
    "min_mean",
    "ood_drop",
    "run_checks",
]

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from robusteval.errors import RobustEvalError
from robusteval.registry import Registry
from robusteval.rundir import HUMAN_FAMILY, CheckRecord
from robusteval.stats.estimates import compare_contrast
from robusteval.stats.frame import Prepared
from robusteval.stats.records import Record
from robusteval.stats.settings import CheckSpec, StatsSettings
from robusteval.status import CheckStatus


@dataclass(frozen=True)
class CheckContext:
    """What a check may read: the prepared rows, the settings and the records computed before the checks."""

    prep: Prepared
    settings: StatsSettings
    cells: Sequence[Record]
    robustness: Sequence[Record]


CheckFn = Callable[[CheckSpec, CheckContext], list[CheckRecord]]
CHECKS: Registry[CheckFn] = Registry("check")


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _error(spec: CheckSpec, reason: str, model: str | None = None) -> CheckRecord:
    return {
        "check": spec.describe(),
        "kind": spec.kind,
        "metric": spec.metric,
        "model": model if model is not None else spec.model,
        "status": CheckStatus.ERROR,
        "value": None,
        "threshold": spec.max if spec.max is not None else spec.min,
        "ci_low": None,
        "ci_high": None,
        "message": reason,
    }


def _verdict(
    spec: CheckSpec,
    model: str,
    what: str,
    value: float,
    ci: tuple[float, float] | None,
    *,
    upper: bool,
    level: float,
) -> CheckRecord:
    """PASS/WARN/FAIL of ``value`` against ``spec.max`` (upper) or ``spec.min`` (lower bound)."""
    limit = spec.max if upper else spec.min
    assert limit is not None

    def beyond(v: float) -> bool:
        return v > limit if upper else v < limit

    bad_op, ok_op = (">", "<=") if upper else ("<", ">=")
    ci_text = ""
    if ci is not None and all(math.isfinite(c) for c in ci):
        ci_text = f" ({round(100 * level)}% CI {_fmt(ci[0])} to {_fmt(ci[1])})"
    if beyond(value):
        status = CheckStatus.FAIL
        message = f"{what} {_fmt(value)} {bad_op} {_fmt(limit)}{ci_text}"
    else:
        status = CheckStatus.PASS
        message = f"{what} {_fmt(value)} {ok_op} {_fmt(limit)}{ci_text}"
        far_end = None if ci is None else (ci[1] if upper else ci[0])
        if spec.warn is not None and ((value > spec.warn) if upper else (value < spec.warn)):
            status = CheckStatus.WARN
            message += f", but beyond the warning level {_fmt(spec.warn)}"
        elif far_end is not None and math.isfinite(far_end) and beyond(far_end):
            status = CheckStatus.WARN
            message += f", but the interval reaches {_fmt(far_end)}"
    return {
        "check": spec.describe(),
        "kind": spec.kind,
        "metric": spec.metric,
        "model": model,
        "status": status,
        "value": value,
        "threshold": limit,
        "ci_low": None if ci is None else ci[0],
        "ci_high": None if ci is None else ci[1],
        "message": message,
    }


def _models(spec: CheckSpec, ctx: CheckContext) -> list[str] | str:
    """The models to check, or an error message."""
    models = sorted(ctx.prep.rows["model"].unique())
    if spec.model is None:
        return models if models else "no successful rows"
    return [spec.model] if spec.model in models else f"model {spec.model!r} has no successful rows"


def _metric_error(spec: CheckSpec, ctx: CheckContext) -> str | None:
    if spec.metric not in [m.name for m in ctx.prep.metrics]:
        return f"metric {spec.metric!r} is not among the analysed metrics"
    return None


def ood_drop(spec: CheckSpec, ctx: CheckContext) -> list[CheckRecord]:
    """Drop = sign * (mean ID clean - mean OOD) per model (positive = worse OOD), against ``max``.

    ``scope``: ``all`` (default: natural site split and simulated shifts, no label noise), ``sites``,
    ``shifts`` or one shift name. The OOD rows are pooled (each weighted equally). The interval is the t
    contrast of ``inference.py`` with every subject (or case) one unit: a case's clean row and its shifted
    rows are resampled together (paired), the OOD-site subjects apart (a second stratum, Welch df).
    """
    if spec.max is None:
        return [_error(spec, "ood_drop needs 'max' (the largest acceptable drop)")]
    if (err := _metric_error(spec, ctx)) is not None:
        return [_error(spec, err)]
    info = ctx.prep.info(spec.metric)
    if info.descriptive:
        return [_error(spec, f"{spec.metric!r} is descriptive (no better or worse): it has no OOD drop")]
    models = _models(spec, ctx)
    if isinstance(models, str):
        return [_error(spec, models)]
    rows = ctx.prep.rows
    scope = spec.scope or "all"
    if scope == "all":
        ood_mask = rows["is_site"] | rows["is_shift"]
    elif scope == "sites":
        ood_mask = rows["is_site"]
    elif scope == "shifts":
        ood_mask = rows["is_shift"]
    else:
        ood_mask = rows["shift"] == scope
    s = ctx.settings
    unit_column = "case_id" if s.cluster in (None, "site") else "cluster"
    label = f"OOD {spec.metric.upper()} drop" + ("" if scope == "all" else f" ({scope})")
    out: list[CheckRecord] = []
    for model in models:
        mrows = rows.loc[(rows["model"] == model) & rows[spec.metric].notna()]
        id_rows = mrows.loc[mrows["is_id"]]
        ood_rows = mrows.loc[ood_mask.loc[mrows.index]]
        if id_rows.empty or ood_rows.empty:
            what = "ID clean" if id_rows.empty else f"OOD ({scope})"
            out.append(_error(spec, f"no {what} values for model {model!r}", model))
            continue
        shifted = ood_rows.loc[~ood_rows["is_site"]]
        sites = ood_rows.loc[ood_rows["is_site"]]
        groups = [(id_rows, -1.0 / len(id_rows), "id"), (shifted, 1.0 / len(ood_rows), "id")]
        groups.append((sites, 1.0 / len(ood_rows), "ood"))
        groups = [g for g in groups if not g[0].empty]
        # group means enter with weights N_k / N_ood, so the contrast is mean(OOD rows) - mean(ID rows)
        values = [g[0][spec.metric].to_numpy(dtype=np.float64) for g in groups]
        coefs = [g[1] * len(g[0]) for g in groups]
        units = [g[0][unit_column].astype(str).to_numpy() for g in groups]
        strata = [g[2] for g in groups]
        try:
            c = compare_contrast(values, coefs, units, strata, s)
        except ValueError:  # a subject in both the ID and an OOD site: one stratum
            c = compare_contrast(values, coefs, units, ["all"] * len(groups), s)
        drop = -info.sign * c.estimate
        interval = None
        if math.isfinite(c.ci_low):
            bounds = sorted((-info.sign * c.ci_low, -info.sign * c.ci_high))
            interval = (bounds[0], bounds[1])
        rec = _verdict(spec, model, label, drop, interval, upper=True, level=s.confidence_level)
        rec["n_units"] = c.n_units
        rec["clustered"] = c.clustered
        if c.note:
            rec["message"] += f" [{c.note}]"
        out.append(rec)
    return out


def _mean_check(spec: CheckSpec, ctx: CheckContext, *, upper: bool) -> list[CheckRecord]:
    bound = spec.max if upper else spec.min
    if bound is None:
        return [_error(spec, f"{spec.kind} needs '{'max' if upper else 'min'}'")]
    if (err := _metric_error(spec, ctx)) is not None:
        return [_error(spec, err)]
    models = _models(spec, ctx)
    if isinstance(models, str):
        return [_error(spec, models)]
    scope = spec.scope or "clean"
    out: list[CheckRecord] = []
    for model in models:
        match = [
            c
            for c in ctx.cells
            if c["model"] == model
            and c["metric"] == spec.metric
            and c["site"] is None
            and ((c["condition"] == "clean" and c["split"] == "id") if scope == "clean" else c["condition"] == scope)
        ]
        if not match:
            out.append(_error(spec, f"no cell {scope!r} for model {model!r}", model))
            continue
        cell = match[0]
        if cell["mean"] is None or not math.isfinite(cell["mean"]):
            out.append(_error(spec, f"no values in cell {scope!r} for model {model!r}", model))
            continue
        ci = (cell["ci_low"], cell["ci_high"]) if cell["ci_low"] is not None else None
        what = f"{'ID clean' if scope == 'clean' else scope} {spec.metric.upper()} mean"
        level = ctx.settings.confidence_level
        out.append(_verdict(spec, model, what, float(cell["mean"]), ci, upper=upper, level=level))
    return out


def min_mean(spec: CheckSpec, ctx: CheckContext) -> list[CheckRecord]:
    """Cell mean (``scope``: ``clean`` = ID clean, or a condition label) must be at least ``min``."""
    return _mean_check(spec, ctx, upper=False)


def max_mean(spec: CheckSpec, ctx: CheckContext) -> list[CheckRecord]:
    """Cell mean (``scope`` as for ``min_mean``) must be at most ``max`` (e.g. for distance metrics)."""
    return _mean_check(spec, ctx, upper=True)


def max_degradation(spec: CheckSpec, ctx: CheckContext) -> list[CheckRecord]:
    """ROOD-MRI degradation (``scope``: ``mean`` over shifts, or one shift name) must be at most ``max``."""
    if spec.max is None:
        return [_error(spec, "max_degradation needs 'max'")]
    if (err := _metric_error(spec, ctx)) is not None:
        return [_error(spec, err)]
    if ctx.prep.info(spec.metric).descriptive:
        return [_error(spec, f"{spec.metric!r} is descriptive (no better or worse): it has no degradation")]
    models = _models(spec, ctx)
    if isinstance(models, str):
        return [_error(spec, models)]
    if spec.model is None:  # a human baseline annotated the clean images only: it has no degradation to check
        models = [m for m in models if ctx.prep.families.get(m) != HUMAN_FAMILY]
    scope = spec.scope or "mean"
    out: list[CheckRecord] = []
    for model in models:
        match = [
            r
            for r in ctx.robustness
            if r.get("kind") == "rood" and r["model"] == model and r["metric"] == spec.metric and r["shift"] == scope
        ]
        value = match[0].get("degradation") if match else None
        if value is None or not math.isfinite(value):
            reason = match[0].get("note") if match and match[0].get("note") else f"no ROOD-MRI score for {scope!r}"
            out.append(_error(spec, f"{reason} (model {model!r})", model))
            continue
        where = "mean over shifts" if scope == "mean" else scope
        what = f"ROOD-MRI {spec.metric.upper()} degradation ({where})"
        out.append(_verdict(spec, model, what, float(value), None, upper=True, level=ctx.settings.confidence_level))
    return out


CHECKS.add("ood_drop", ood_drop)
CHECKS.add("min_mean", min_mean)
CHECKS.add("max_mean", max_mean)
CHECKS.add("max_degradation", max_degradation)


def run_checks(ctx: CheckContext) -> list[CheckRecord]:
    """Run every check of ``ctx.settings.checks``; an unknown kind or a crash becomes an ERROR record."""
    out: list[CheckRecord] = []
    for spec in ctx.settings.checks:
        try:
            fn = CHECKS.get(spec.kind)
        except RobustEvalError as exc:
            out.append(_error(spec, str(exc)))
            continue
        try:
            out.extend(fn(spec, ctx))
        except (ValueError, KeyError, RobustEvalError) as exc:
            out.append(_error(spec, f"could not be computed: {exc}"))
    return out
