"""Pooled out-of-distribution summaries with intervals and tests, for the verdict (headline metric only).

On the ID test cases that have every simulated shift (label noise excluded) for every model, per case:

- ``ood_mean``: the case's mean metric over the shifted conditions (every condition weighted equally), so the
  mean over cases is the equal-weight mean over conditions;
- ``degradation``: the case's ROOD-MRI degradation, ``sum_s a^s sign (clean - M_s) / sum_s a^s`` per shift with
  the case's own clean value, averaged over shifts (positive = worse); its mean over cases is the ROOD-MRI
  degradation of ``robustness.py`` computed on these cases.

Records (``kind``): ``pooled`` per model and quantity (mean with the cells' interval: bootstrap-t by default,
subjects resampled where one holds several cases); ``pooled_vs`` per model pair and quantity: the paired
per-case difference ``model_a - model_b``, its paired t test (cluster-robust) and the interval that inverts
it, adjusted over the pairs of the quantity (``test_family``; exploratory: the primary questions in
``primary.py`` ask the per-model and per-family versions). Nothing for a descriptive metric.
"""

from __future__ import annotations

__all__ = ["pooled_records"]

from itertools import combinations

import numpy as np

from robusteval.rundir import HUMAN_FAMILY
from robusteval.stats.estimates import (
    adjust_records,
    compare_paired,
    comparison_fields,
    comparison_note,
    interval_flags,
    mean_intervals,
)
from robusteval.stats.frame import CLEAN, LABEL_NOISE, Prepared
from robusteval.stats.records import Record
from robusteval.stats.settings import StatsSettings

QUANTITIES = ("ood_mean", "degradation")


def pooled_records(prep: Prepared, settings: StatsSettings) -> list[Record]:
    """``pooled`` and ``pooled_vs`` records for ``settings.headline_metric`` (empty without simulated shifts);
    the human baseline (family ``human``, clean conditions only) is not among them."""
    metric = settings.headline_metric
    if metric not in {m.name for m in prep.metrics}:
        return []
    info = prep.info(metric)
    if info.descriptive:
        return []
    cube = prep.cube(metric)
    shift_idx = [
        k
        for k, (shift, _) in enumerate(cube.conditions)
        if shift != CLEAN and prep.shift_families.get(shift) != LABEL_NOISE
    ]
    clean_idx = [k for k, (shift, _) in enumerate(cube.conditions) if shift == CLEAN]
    # a human baseline annotated the clean images only: it would leave no case with every shifted condition
    rated = [i for i, m in enumerate(cube.models) if prep.families.get(m) != HUMAN_FAMILY]
    models = [cube.models[i] for i in rated]
    if not shift_idx or not clean_idx or not models:
        return []
    ids = np.flatnonzero(cube.case_is_id)
    shifted = cube.values[rated][:, ids][:, :, shift_idx]  # (models, ID cases, shifted conditions)
    clean = cube.values[rated][:, ids, clean_idx[0]]  # (models, ID cases)
    complete = np.isfinite(shifted).all(axis=(0, 2)) & np.isfinite(clean).all(axis=0)
    n_dropped = int((~complete).sum())
    if complete.sum() < 1:
        return []
    shifted, clean = shifted[:, complete], clean[:, complete]
    sign = 1.0 if info.higher_is_better else -1.0
    per_shift: dict[str, list[tuple[int, float]]] = {}
    for j, k in enumerate(shift_idx):
        shift, severity = cube.conditions[k]
        per_shift.setdefault(str(shift), []).append((j, float(severity)))
    degradations = []
    for cols in per_shift.values():
        w = np.array([settings.rood_alpha**s for _, s in cols])
        drop = sign * (clean[:, :, None] - shifted[:, :, [j for j, _ in cols]])
        degradations.append((drop * w).sum(axis=2) / w.sum())
    per_case = {"ood_mean": shifted.mean(axis=2), "degradation": np.mean(degradations, axis=0)}
    clusters = cube.case_cluster[ids][complete]
    note = f"{n_dropped} ID case(s) without every shifted condition for every model left out" if n_dropped else ""
    common = {
        "metric": metric,
        "n": int(complete.sum()),
        "n_conditions": len(shift_idx),
        "n_shifts": len(per_shift),
        "alpha": settings.rood_alpha,
    }
    out: list[Record] = []
    for quantity in QUANTITIES:
        values = per_case[quantity]
        intervals = mean_intervals(list(values), [clusters] * len(values), settings)
        for model, ci in zip(models, intervals, strict=True):
            flags, flag_notes = interval_flags(ci.n, ci.n_clusters)
            out.append(
                {
                    "kind": "pooled",
                    "model": model,
                    "quantity": quantity,
                    **common,
                    "estimate": ci.estimate,
                    "ci_low": ci.low,
                    "ci_high": ci.high,
                    "method": ci.method,
                    "n_units": ci.n_clusters,
                    **flags,
                    "note": "; ".join(p for p in (note, ci.note, *flag_notes) if p),
                }
            )
        pairs = list(combinations(range(len(models)), 2))
        diffs = [values[a] - values[b] for a, b in pairs]
        vs = [
            {
                "kind": "pooled_vs",
                "model_a": models[a],
                "model_b": models[b],
                "quantity": quantity,
                **common,
                "test": "paired t",
                "test_family": f"pooled:{quantity}:{metric}",
                "exploratory": True,
            }
            for a, b in pairs
        ]
        for r, d in zip(vs, diffs, strict=True):
            c = compare_paired(d, clusters, settings)
            r.update(comparison_fields(c))
            r["note"] = "; ".join(p for p in (note, comparison_note(c)) if p)
        adjust_records(vs, settings)
        out.extend(vs)
    return out
