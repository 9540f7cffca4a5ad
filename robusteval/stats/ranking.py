"""Bootstrap rank stability (challengeR style) for the headline metric, per condition.

Conventions: models are ranked by their mean over the cases every model has in that condition (rank 1 =
best; ties share the lowest rank, ``method="min"``). Each bootstrap resample draws the cases (or whole
clusters) with replacement, for all models at once, and re-ranks. Per model: the full-data rank, the mean and
median bootstrap rank, a percentile interval and the probability of each rank (``p_rank_<r>``). Per
condition: Kendall's tau-b between the full-data ranking and each bootstrap ranking (mean, median, interval).
"""

from __future__ import annotations

__all__ = ["rank_models", "rank_stability"]

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from robusteval.conditions import ConditionKey, severity_value
from robusteval.stats.frame import Prepared, condition_keys
from robusteval.stats.hypothesis import kendall_tau_b
from robusteval.stats.records import Record
from robusteval.stats.settings import StatsSettings


def rank_models(means: ArrayLike, higher_is_better: bool) -> NDArray[np.float64]:
    """Ranks (1 = best) of the models along axis 0 of ``means`` (models, ...); ties share the lowest rank."""
    m = np.asarray(means, dtype=np.float64)
    return np.asarray(stats.rankdata(-m if higher_is_better else m, method="min", axis=0), dtype=np.float64)


def rank_stability(prep: Prepared, settings: StatsSettings) -> list[Record]:
    """Rank distribution and Kendall's tau records for the headline metric (empty if it is not analysed)."""
    metric = settings.headline_metric
    if metric not in [m.name for m in prep.metrics]:
        return [
            {
                "kind": "skipped",
                "metric": metric,
                "note": f"headline metric {metric!r} is not among the analysed metrics",
            }
        ]
    info = prep.info(metric)
    if info.descriptive:
        note = f"{metric!r} is descriptive: models are not ranked by it"
        return [{"kind": "skipped", "metric": metric, "note": note}]
    if prep.rows.empty:
        return []
    cube = prep.cube(metric)
    out: list[Record] = []
    lo_q = 100 * (1 - settings.confidence_level) / 2
    hi_q = 100 - lo_q
    for shift, severity, split in condition_keys(prep.rows):
        ci = cube.condition(shift, severity)
        mask = cube.case_mask(shift, split)
        present = [i for i in range(len(cube.models)) if cube.present[i, mask, ci].any()]
        models = [cube.models[i] for i in present]
        block = cube.values[np.ix_(np.asarray(present, dtype=np.intp), np.flatnonzero(mask), np.asarray([ci]))][
            :, :, 0
        ]  # (models, cases)
        complete = ~np.isnan(block).any(axis=0) if present else np.zeros(0, dtype=bool)
        dropped = int((~np.isnan(block)).any(axis=0).sum() - complete.sum()) if present else 0
        values = block[:, complete]
        base: Record = {
            "shift": shift,
            "severity": severity_value(severity),
            "condition": ConditionKey(shift, severity).label,
            "split": split,
            "metric": metric,
            "n_cases": int(values.shape[1]),
            "n_models": len(models),
        }
        note = f"{dropped} case(s) missing for some model left out" if dropped else ""
        if len(models) < 2 or values.shape[1] < 2:
            out.append({"kind": "skipped", **base, "note": "fewer than 2 models or 2 common cases: no ranking"})
            continue
        if settings.cluster is None:
            codes = np.arange(values.shape[1])
        else:
            _, codes = np.unique(cube.case_cluster[mask][complete].astype(str), return_inverse=True)
        k = int(codes.max()) + 1
        if k < 3 or k == values.shape[1]:  # too few clusters, or none holds two cases: resample cases
            codes, k = np.arange(values.shape[1]), values.shape[1]
            note = "; ".join(x for x in (note, "fewer than 3 clusters: cases resampled") if x)
        sums = np.zeros((len(models), k))
        np.add.at(sums.T, codes, values.T)
        sizes = np.bincount(codes, minlength=k).astype(np.float64)
        rng = np.random.default_rng(settings.seed)
        idx = rng.integers(0, k, (settings.n_resamples, k))
        offsets = (idx + (np.arange(settings.n_resamples) * k)[:, None]).ravel()
        counts = np.bincount(offsets, minlength=settings.n_resamples * k).reshape(settings.n_resamples, k)
        boot_means = (sums @ counts.T) / (counts @ sizes)[None, :]  # (models, resamples)
        full_rank = rank_models(values.mean(axis=1), info.higher_is_better)
        boot_ranks = rank_models(boot_means, info.higher_is_better)
        tau = kendall_tau_b(full_rank, boot_ranks.T)
        for i, model in enumerate(models):
            r = boot_ranks[i]
            rec: Record = {
                "kind": "rank",
                **base,
                "model": model,
                "mean": float(values[i].mean()),
                "rank": float(full_rank[i]),
                "mean_rank": float(r.mean()),
                "median_rank": float(np.median(r)),
                "rank_ci_low": float(np.percentile(r, lo_q)),
                "rank_ci_high": float(np.percentile(r, hi_q)),
                "n_resamples": settings.n_resamples,
                "note": note,
            }
            for pos in range(1, len(models) + 1):
                rec[f"p_rank_{pos}"] = float(np.mean(r == pos))
            out.append(rec)
        finite = tau[np.isfinite(tau)]
        out.append(
            {
                "kind": "kendall_tau",
                **base,
                "tau_mean": float(finite.mean()) if finite.size else None,
                "tau_median": float(np.median(finite)) if finite.size else None,
                "tau_ci_low": float(np.percentile(finite, lo_q)) if finite.size else None,
                "tau_ci_high": float(np.percentile(finite, hi_q)) if finite.size else None,
                "n_resamples": settings.n_resamples,
                "note": note if finite.size else "; ".join(x for x in (note, "tau undefined (tied ranks)") if x),
            }
        )
    return out
