"""Per model x condition x metric summaries: mean and median with bootstrap confidence intervals.

The mean's interval is ``settings.ci_method``'s (bootstrap-t by default: see ``bootstrap.bootstrap_t_intervals``),
the median's BCa (percentile when ``ci_method`` is ``percentile``). Units are subjects wherever a subject has
several cases in the cell (``cluster: auto``; ``clustered: true``); fewer than 3 units: no interval, with the
reason; fewer than 10: ``small_sample: true`` and a note (the interval may under-cover).

A cell is (model, shift, severity, split); for the natural site split (``shift == "clean"``, ``split ==
"ood"``) with two or more OOD sites there is also one cell per site (``site`` set; pooled cells have
``site: None``). Values are the successful cases after worst-value replacement; NaNs left (no declared worst
value) are dropped and counted in ``n_missing``; failed rows are counted in ``n_failed``, unavailable rows (no
prediction for that condition) in ``n_unavailable``. A cell whose every row failed is kept, empty, to say so;
one whose rows are all unavailable has no record (there was nothing to evaluate).
"""

from __future__ import annotations

__all__ = ["cell_records"]

from collections.abc import Hashable
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from robusteval.conditions import CLEAN, ConditionKey, severity_value
from robusteval.stats.bootstrap import bootstrap_intervals
from robusteval.stats.estimates import interval_flags, mean_intervals
from robusteval.stats.frame import Prepared, condition_keys
from robusteval.stats.records import Record
from robusteval.stats.settings import StatsSettings

CELL_KEY = ["model", "shift", "severity", "split"]


def _counts(f: pd.DataFrame) -> tuple[dict[Hashable, int], dict[Hashable, int]]:
    """Rows of ``f`` per cell, and per cell and site."""
    if f.empty:
        return {}, {}
    pooled = f.groupby(CELL_KEY).size().to_dict()
    per_site = f.groupby([*CELL_KEY, "site"]).size().to_dict()
    return pooled, per_site


def cell_records(prep: Prepared, settings: StatsSettings) -> list[Record]:
    """One record per cell and metric with mean/median CIs (``method``/``median_method`` and ``note``)."""
    failed_pooled, failed_site = _counts(prep.failed)
    unavailable_pooled, unavailable_site = _counts(prep.unavailable)
    meta: list[Record] = []
    samples: list[NDArray[np.float64]] = []
    clusters: list[NDArray[Any] | None] = []
    keys = condition_keys(prep.rows) if len(prep.rows) else []
    for info in prep.metrics:
        cube = prep.cube(info.name)
        for mi, model in enumerate(cube.models):
            for shift, severity, split in keys:
                ci = cube.condition(shift, severity)
                pooled = cube.case_mask(shift, split)
                groups: list[tuple[str | None, NDArray[np.bool_]]] = [(None, pooled)]
                if shift == CLEAN and split != "id":
                    sites = sorted({str(x) for x in cube.case_site[pooled & cube.present[mi, :, ci]]})
                    if len(sites) > 1:
                        groups += [(x, pooled & (cube.case_site == x)) for x in sites]
                for site, mask in groups:
                    present = mask & cube.present[mi, :, ci]
                    key = (model, shift, severity, split)
                    n_failed = failed_pooled.get(key, 0) if site is None else failed_site.get((*key, site), 0)
                    n_unavailable = (
                        unavailable_pooled.get(key, 0) if site is None else unavailable_site.get((*key, site), 0)
                    )
                    if not present.any() and not n_failed:
                        continue
                    values = cube.values[mi, :, ci]
                    ok = present & ~np.isnan(values)
                    samples.append(values[ok])
                    clusters.append(None if settings.cluster is None else cube.case_cluster[ok])
                    notes = [info.note] if info.note else []
                    n_missing = int((present & np.isnan(values)).sum())
                    if n_missing:
                        notes.append(f"{n_missing} NaN value(s) without a declared worst value left out")
                    meta.append(
                        {
                            "model": model,
                            "family": prep.families.get(model),
                            "shift": shift,
                            "shift_family": "site"
                            if shift == CLEAN and split != "id"
                            else prep.shift_families.get(shift),
                            "severity": severity_value(severity),
                            "condition": ConditionKey(shift, severity).label,
                            "split": split,
                            "site": site,
                            "metric": info.name,
                            "higher_is_better": None if info.descriptive else info.higher_is_better,
                            "descriptive": info.descriptive,
                            "n_failed": int(n_failed),
                            "n_unavailable": int(n_unavailable),
                            "n_missing": n_missing,
                            "n_replaced": int((cube.replaced[mi, :, ci] & present).sum()),
                            "_notes": notes,
                        }
                    )
    seen = {(r["model"], r["shift"], float(r["severity"]), r["split"]) for r in meta if r["site"] is None}
    for fkey, n_failed in sorted(failed_pooled.items(), key=str):
        model, shift, severity, split = cast(tuple[str, str, float, str], fkey)
        if (model, shift, float(severity), split) in seen:
            continue
        for info in prep.metrics:  # every case of this cell failed: an empty cell that says so
            samples.append(np.empty(0))
            clusters.append(None)
            meta.append(
                {
                    "model": model,
                    "family": prep.families.get(model),
                    "shift": shift,
                    "shift_family": prep.shift_families.get(shift),
                    "severity": severity_value(severity),
                    "condition": ConditionKey(shift, severity).label,
                    "split": split,
                    "site": None,
                    "metric": info.name,
                    "higher_is_better": None if info.descriptive else info.higher_is_better,
                    "descriptive": info.descriptive,
                    "n_failed": int(n_failed),
                    "n_unavailable": int(unavailable_pooled.get(fkey, 0)),
                    "n_missing": 0,
                    "n_replaced": 0,
                    "_notes": [info.note] if info.note else [],
                }
            )
    means = mean_intervals(samples, clusters, settings)
    medians = bootstrap_intervals(
        samples,
        clusters=None if settings.cluster is None else clusters,
        statistics=("median",),
        confidence_level=settings.confidence_level,
        n_resamples=settings.n_resamples,
        method="percentile" if settings.ci_method == "percentile" else "BCa",
        small_sample=settings.small_sample_expansion,
        seed=settings.seed,
        too_few_clusters="cases" if settings.cluster == "site" else "none",
    )["median"]
    out: list[Record] = []
    for rec, mean, median in zip(meta, means, medians, strict=True):
        notes = rec.pop("_notes")
        flags, flag_notes = interval_flags(mean.n, mean.n_clusters)
        if mean.note:
            notes.append(f"mean: {mean.note}" if median.note != mean.note else mean.note)
        if median.note and median.note != mean.note:
            notes.append(f"median: {median.note}")
        if rec["n_failed"]:
            notes.append(f"{rec['n_failed']} failed case(s) excluded")
        if rec["n_unavailable"]:
            notes.append(f"{rec['n_unavailable']} case(s) without a prediction (unavailable) excluded")
        if rec["n_replaced"]:
            notes.append(f"{rec['n_replaced']} NaN value(s) replaced by the declared worst value")
        notes.extend(flag_notes)
        out.append(
            {
                **rec,
                "n": mean.n,
                "n_clusters": mean.n_clusters,
                "n_units": mean.n_clusters,
                **flags,
                "cluster": settings.cluster,
                "mean": mean.estimate,
                "ci_low": mean.low,
                "ci_high": mean.high,
                "std_error": mean.std_error,
                "median": median.estimate,
                "median_ci_low": median.low,
                "median_ci_high": median.high,
                "method": mean.method,
                "median_method": median.method,
                "confidence_level": settings.confidence_level,
                "n_resamples": settings.n_resamples,
                "note": "; ".join(notes),
            }
        )
    return out
