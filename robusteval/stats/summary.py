"""``summarize``: every statistic of a run from its ``cases`` table, as lists of flat JSON records."""

from __future__ import annotations

__all__ = ["OUTPUT_KEYS", "primary_questions", "summarize"]

import platform
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
import scipy
import statsmodels

from robusteval.stats.cells import cell_records
from robusteval.stats.checks import CheckContext, run_checks
from robusteval.stats.comparisons import id_vs_ood, model_vs_model
from robusteval.stats.frame import Prepared, prepare
from robusteval.stats.mixed import mixed_effects
from robusteval.stats.primary import primary_records
from robusteval.stats.ranking import rank_stability
from robusteval.stats.records import Record, clean
from robusteval.stats.robustness import robustness_records
from robusteval.stats.settings import StatsSettings

OUTPUT_KEYS = (
    "primary",
    "cells",
    "id_vs_ood",
    "model_vs_model",
    "ranks",
    "mixed_effects",
    "robustness",
    "checks",
)


def _data_records(prep: Prepared) -> list[Record]:
    rows = prep.rows
    summary: Record = {
        "kind": "summary",
        "n_input_rows": prep.n_input_rows,  # = n_ok_rows + n_failed_rows + n_unavailable_rows
        "n_ok_rows": prep.n_input_rows - len(prep.failed) - len(prep.unavailable),
        "n_failed_rows": len(prep.failed),
        "n_unavailable_rows": len(prep.unavailable),
        "n_models": int(rows["model"].nunique()) if len(rows) else 0,
        "n_cases": int(rows["case_id"].nunique()) if len(rows) else 0,
        "cluster": prep.cluster,
        "n_clusters": int(rows["cluster"].nunique()) if len(rows) else 0,
    }
    for info in prep.metrics:
        summary[f"n_replaced:{info.name}"] = int(rows[f"replaced:{info.name}"].sum())
        summary[f"n_missing:{info.name}"] = int(rows[info.name].isna().sum())
        summary[f"worst_value:{info.name}"] = info.worst_value
        summary[f"higher_is_better:{info.name}"] = None if info.descriptive else info.higher_is_better
        summary[f"descriptive:{info.name}"] = info.descriptive
    out: list[Record] = [summary]
    for kind, frame in (("failed", prep.failed), ("unavailable", prep.unavailable)):
        if not len(frame):
            continue
        counts = frame.groupby(["model", "shift", "severity", "split"]).size()
        for key, n in counts.items():
            model, shift, severity, split = cast(tuple[str, str, float, str], key)
            out.append(
                {
                    "kind": kind,
                    "model": model,
                    "shift": shift,
                    "severity": severity,
                    "split": split,
                    "n": int(n),
                }
            )
    descriptive = [i.name for i in prep.metrics if i.descriptive]
    if descriptive:
        out.append(
            {
                "kind": "note",
                "note": f"{', '.join(descriptive)}: descriptive (they describe a case, they do not score it): "
                "no better or worse, no degradation, no ranking",
            }
        )
    out.extend({"kind": "note", "note": n} for n in prep.notes)
    return out


def summarize(
    cases: pd.DataFrame,
    metrics: Sequence[str],
    settings: StatsSettings,
    *,
    worst_values: Mapping[str, float] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """All statistics of a run (see docs/statistics.md).

    Returns the keys of ``OUTPUT_KEYS`` (``primary`` first: the declared primary questions) plus ``settings``
    (one record: the settings, library versions) and ``data`` (row counts, failed and unavailable rows per
    cell, replacements per metric, notes). Records are flat dicts of JSON values (NaN -> None).
    ``worst_values`` maps a metric to the value that replaces its NaNs.
    """
    prep = prepare(cases, metrics, worst_values=worst_values, cluster=settings.cluster)
    cells = cell_records(prep, settings)
    robustness = robustness_records(prep, settings)
    result: dict[str, Sequence[Mapping[str, Any]]] = {
        "primary": primary_records(prep, settings),
        "cells": cells,
        "id_vs_ood": id_vs_ood(prep, settings),
        "model_vs_model": model_vs_model(prep, settings),
        "ranks": rank_stability(prep, settings),
        "mixed_effects": mixed_effects(prep, settings),
        "robustness": robustness,
        "checks": run_checks(CheckContext(prep, settings, cells, robustness)),
    }
    settings_record: Record = {
        **settings.to_dict(),
        "metrics": list(metrics),
        "worst_values": dict(worst_values or {}),
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__,
            "pandas": pd.__version__,
        },
    }
    out = {key: [clean(r) for r in records] for key, records in result.items()}
    out["settings"] = [clean(settings_record)]
    out["data"] = [clean(r) for r in _data_records(prep)]
    return out


def primary_questions(
    cases: pd.DataFrame,
    metrics: Sequence[str],
    settings: StatsSettings,
    *,
    worst_values: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The ``primary`` records of :func:`summarize` alone (the declared primary questions; ``primary.py``)."""
    prep = prepare(cases, metrics, worst_values=worst_values, cluster=settings.cluster)
    return [clean(r) for r in primary_records(prep, settings)]
