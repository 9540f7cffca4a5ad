"""Robustness summaries per model: ROOD-MRI scores, mCE, worst group, effective robustness, label noise.

Formulas (M = mean metric of a cell, s = severity, a = ``settings.rood_alpha``, sign = +1 when higher is
better, -1 otherwise):

- ROOD-MRI (Boone et al. 2023), per simulated shift over its severities:
  overall = (M_clean + sum_s a^s M_s) / (1 + sum_s a^s);
  degradation = sum_s a^s sign (M_clean - M_s) / sum_s a^s (positive = worse). ``shift="mean"`` averages both
  over the shifts.
- Corruption error (Hendrycks & Dietterich 2019) with error E = 1 - M (higher-is-better) or E = M:
  CE_c = sum_s E_{s,c} / sum_s E^ref_{s,c}; relative CE_c = sum_s (E_{s,c} - E_clean) /
  sum_s (E^ref_{s,c} - E^ref_clean); mCE and relative mCE are their means over shifts c. 1.0 = the reference.
- Worst group (WILDS keys): ``<metric>_group:site=B`` per group mean, ``<metric>_avg`` the mean over all
  cases, ``<metric>_wg`` the worst group mean; groups are sites (clean cases) or conditions (ID clean and
  every simulated shift and severity).
- Effective robustness (Taori et al. 2020): the least-squares line OOD = slope * ID + intercept across the
  models; a model's ER = sign * (OOD - line(ID)) (positive = more robust than the trend). Needs 3+ models.
- Pooled (``pooled.py``, headline metric): per-case OOD mean and ROOD-MRI degradation on the ID cases with
  every shift, with intervals and paired model-vs-model tests (``pooled`` / ``pooled_vs``).
- Descriptive metrics (volumes): a ``skipped`` record saying so, and the label-noise moves only.
- Label noise: rows with ``shift_family == "label_noise"`` score the ID clean predictions against perturbed
  reference labels. Per model: the mean's move (noisy - clean reference, paired cases); per simulated shift
  S with a composed condition ``S+<noise>`` in the data, the move of the ID-vs-OOD difference
  ((M_{S+noise} - M_noise) - (M_S - M_clean)); per noise condition, Kendall's tau-b between the model rankings
  under clean and noisy references.
"""

from __future__ import annotations

__all__ = [
    "corruption_errors",
    "effective_robustness",
    "robustness_records",
    "rood_scores",
    "worst_group",
]

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from robusteval.conditions import CLEAN, ConditionKey, severity_value
from robusteval.stats.frame import LABEL_NOISE, MetricInfo, Prepared
from robusteval.stats.hypothesis import kendall_tau_b
from robusteval.stats.pooled import pooled_records
from robusteval.stats.ranking import rank_models
from robusteval.stats.records import Record
from robusteval.stats.settings import StatsSettings


def rood_scores(
    clean: float,
    severities: Sequence[float],
    values: Sequence[float],
    *,
    alpha: float = 2.0 / 3.0,
    higher_is_better: bool = True,
) -> tuple[float, float]:
    """(overall, degradation) ROOD-MRI scores of one shift; see the module doc for the formulas."""
    s = np.asarray(severities, dtype=np.float64)
    m = np.asarray(values, dtype=np.float64)
    if s.shape != m.shape or s.size == 0:
        raise ValueError("need one value per severity, and at least one severity")
    w = alpha**s
    sign = 1.0 if higher_is_better else -1.0
    overall = (clean + float(np.sum(w * m))) / (1.0 + float(np.sum(w)))
    degradation = float(np.sum(w * sign * (clean - m))) / float(np.sum(w))
    return overall, degradation


def _error(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    return 1.0 - values if higher_is_better else values


def corruption_errors(
    clean: float,
    values: Sequence[float],
    ref_clean: float,
    ref_values: Sequence[float],
    *,
    higher_is_better: bool = True,
) -> tuple[float, float]:
    """(CE, relative CE) of one corruption over its severities against the reference model's values."""
    e = _error(np.asarray(values, dtype=np.float64), higher_is_better)
    r = _error(np.asarray(ref_values, dtype=np.float64), higher_is_better)
    e0 = float(_error(np.asarray(clean, dtype=np.float64), higher_is_better))
    r0 = float(_error(np.asarray(ref_clean, dtype=np.float64), higher_is_better))
    den = float(r.sum())
    rel_den = float((r - r0).sum())
    ce = float(e.sum()) / den if den != 0 else math.nan
    rel = float((e - e0).sum()) / rel_den if rel_den != 0 else math.nan
    return ce, rel


def effective_robustness(
    id_values: Mapping[str, float], ood_values: Mapping[str, float], *, higher_is_better: bool = True
) -> tuple[dict[str, float], float, float]:
    """({model: ER}, slope, intercept) of the least-squares line OOD ~ ID across models (3+ models)."""
    models = sorted(
        m for m in id_values if m in ood_values and np.isfinite(id_values[m]) and np.isfinite(ood_values[m])
    )
    if len(models) < 3:
        raise ValueError(f"effective robustness needs 3 or more models with ID and OOD values, got {len(models)}")
    x = np.array([id_values[m] for m in models])
    y = np.array([ood_values[m] for m in models])
    if np.ptp(x) == 0:
        raise ValueError("all models have the same ID performance: the OOD-on-ID line is undefined")
    slope, intercept = np.polyfit(x, y, 1)
    sign = 1.0 if higher_is_better else -1.0
    er = {m: float(sign * (yi - (slope * xi + intercept))) for m, xi, yi in zip(models, x, y, strict=True)}
    return er, float(slope), float(intercept)


def worst_group(group_means: Mapping[str, float], *, higher_is_better: bool = True) -> tuple[str, float]:
    """(group, value) of the worst group mean (lowest, or highest when lower is better); NaNs ignored."""
    finite = {g: v for g, v in group_means.items() if np.isfinite(v)}
    if not finite:
        raise ValueError("no group has a value")
    pick = min if higher_is_better else max
    g = pick(finite, key=lambda k: finite[k])
    return g, finite[g]


def _by_model(series: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in series.items()}


@dataclass(frozen=True)
class _Means:
    """Cell means of one metric: ``clean[model]`` (ID cases) and ``shifted[model][shift]`` = [(s, M_s)]."""

    clean: dict[str, float]
    shifted: dict[str, dict[str, list[tuple[float, float]]]]


def _means(prep: Prepared, metric: str) -> _Means:
    cube = prep.cube(metric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN means, handled below
        means = np.nanmean(cube.values, axis=1)  # (models, conditions) over the cases present
        id_means = np.nanmean(np.where(cube.case_is_id[None, :, None], cube.values, np.nan), axis=1)
    clean: dict[str, float] = {}
    shifted: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for mi, model in enumerate(cube.models):
        per: dict[str, list[tuple[float, float]]] = {}
        for ci, (shift, sev) in enumerate(cube.conditions):
            if shift == CLEAN:
                clean[model] = float(id_means[mi, ci])
            elif prep.shift_families.get(shift) != LABEL_NOISE and cube.present[mi, :, ci].any():
                per.setdefault(shift, []).append((sev, float(means[mi, ci])))
        shifted[model] = per
    return _Means(clean, shifted)


def _rood(prep: Prepared, settings: StatsSettings, info: MetricInfo, means: _Means) -> list[Record]:
    out: list[Record] = []
    for model in sorted(means.shifted):
        clean = means.clean.get(model, math.nan)
        if not np.isfinite(clean):
            out.append(
                {
                    "kind": "rood",
                    "model": model,
                    "metric": info.name,
                    "shift": "mean",
                    "note": "no ID clean values: ROOD-MRI scores undefined",
                }
            )
            continue
        per_shift: list[tuple[float, float]] = []
        for shift, sev_values in sorted(means.shifted[model].items()):
            ok = [(sv, v) for sv, v in sev_values if np.isfinite(v)]
            if not ok:
                continue
            overall, degradation = rood_scores(
                clean,
                [sv for sv, _ in ok],
                [v for _, v in ok],
                alpha=settings.rood_alpha,
                higher_is_better=info.higher_is_better,
            )
            per_shift.append((overall, degradation))
            out.append(
                {
                    "kind": "rood",
                    "model": model,
                    "metric": info.name,
                    "shift": shift,
                    "severities": [severity_value(sv) for sv, _ in ok],
                    "clean": clean,
                    "overall": overall,
                    "degradation": degradation,
                    "alpha": settings.rood_alpha,
                    "note": "",
                }
            )
        out.append(
            {
                "kind": "rood",
                "model": model,
                "metric": info.name,
                "shift": "mean",
                "n_shifts": len(per_shift),
                "clean": clean,
                "overall": float(np.mean([o for o, _ in per_shift])) if per_shift else None,
                "degradation": float(np.mean([d for _, d in per_shift])) if per_shift else None,
                "alpha": settings.rood_alpha,
                "note": "" if per_shift else "no simulated shifts",
            }
        )
    return out


def _mce(prep: Prepared, settings: StatsSettings, info: MetricInfo, means: _Means) -> list[Record]:
    ref = settings.reference_model
    base: Record = {"kind": "mce", "metric": info.name, "model": None, "reference_model": ref}
    if ref is None:
        return [{**base, "note": "statistics.reference_model is not set: mCE not computed"}]
    if ref not in means.shifted:
        return [{**base, "note": f"reference model {ref!r} is not in the results: mCE not computed"}]
    ref_shifts = {shift: dict(v) for shift, v in means.shifted[ref].items()}
    out: list[Record] = []
    for model in sorted(means.shifted):
        ces: list[float] = []
        rels: list[float] = []
        for shift, sev_values in sorted(means.shifted[model].items()):
            ref_sev = ref_shifts.get(shift, {})
            pairs = [(v, ref_sev.get(sv, math.nan)) for sv, v in sev_values]
            rec: Record = {
                "kind": "ce",
                "model": model,
                "metric": info.name,
                "shift": shift,
                "reference_model": ref,
            }
            if not pairs or any(not (np.isfinite(a) and np.isfinite(b)) for a, b in pairs):
                out.append({**rec, "note": "a severity lacks values for the model or the reference"})
                continue
            ce, rel = corruption_errors(
                means.clean.get(model, math.nan),
                [a for a, _ in pairs],
                means.clean.get(ref, math.nan),
                [b for _, b in pairs],
                higher_is_better=info.higher_is_better,
            )
            ces.append(ce)
            rels.append(rel)
            note = "" if np.isfinite(rel) else "relative CE undefined: the reference's error does not change"
            out.append({**rec, "ce": ce, "relative_ce": rel, "note": note})
        fin_rel = [r for r in rels if np.isfinite(r)]
        out.append(
            {
                "kind": "mce",
                "model": model,
                "metric": info.name,
                "reference_model": ref,
                "error": "1 - metric" if info.higher_is_better else "metric",
                "n_shifts": len(ces),
                "mce": float(np.mean(ces)) if ces else None,
                "relative_mce": float(np.mean(fin_rel)) if fin_rel else None,
                "note": "" if ces else "no simulated shifts with values for the model and the reference",
            }
        )
    return out


def _worst_groups(prep: Prepared, info: MetricInfo) -> list[Record]:
    rows = prep.rows
    out: list[Record] = []
    m = info.name
    clean_rows = rows.loc[rows["shift"] == CLEAN]
    cond_rows = rows.loc[rows["is_id"] | rows["is_shift"]]
    for grouping, frame, column in (("site", clean_rows, "site"), ("shift", cond_rows, "condition")):
        if frame.empty:
            continue
        key = f"{grouping}=" + frame[column].astype(str)
        for model, mframe in frame.assign(_group=key).groupby("model", sort=True):
            groups = mframe.groupby("_group")[m].mean()
            rec: Record = {"kind": "worst_group", "model": model, "metric": m, "grouping": grouping}
            rec[f"{m}_avg"] = float(mframe[m].mean())
            try:
                g, v = worst_group(_by_model(groups), higher_is_better=info.higher_is_better)
                rec[f"{m}_wg"] = v
                rec["worst_group"] = g
                rec["note"] = ""
            except ValueError as exc:
                rec[f"{m}_wg"] = None
                rec["worst_group"] = None
                rec["note"] = str(exc)
            rec["n_groups"] = len(groups)
            for g_name, value in groups.items():
                rec[f"{m}_group:{g_name}"] = float(value)
            out.append(rec)
    return out


def _effective(prep: Prepared, info: MetricInfo) -> list[Record]:
    rows = prep.rows
    m = info.name
    idv = _by_model(rows.loc[rows["is_id"]].groupby("model")[m].mean())
    targets: list[tuple[str, pd.DataFrame]] = [("ood_sites", rows.loc[rows["is_site"]])]
    site_rows = rows.loc[rows["is_site"]]
    if site_rows["site"].nunique() > 1:
        targets += [(f"site={s}", f) for s, f in site_rows.groupby("site", sort=True)]
    targets.append(("shifts", rows.loc[rows["is_shift"]]))
    out: list[Record] = []
    for target, frame in targets:
        if frame.empty:
            continue
        oodv = _by_model(frame.groupby("model")[m].mean())
        try:
            er, slope, intercept = effective_robustness(idv, oodv, higher_is_better=info.higher_is_better)
        except ValueError as exc:
            out.append(
                {
                    "kind": "effective_robustness",
                    "model": None,
                    "metric": m,
                    "target": target,
                    "note": str(exc),
                }
            )
            continue
        for model, value in er.items():
            out.append(
                {
                    "kind": "effective_robustness",
                    "model": model,
                    "metric": m,
                    "target": target,
                    "id_value": float(idv[model]),
                    "ood_value": float(oodv[model]),
                    "fit_value": float(slope * idv[model] + intercept),
                    "slope": slope,
                    "intercept": intercept,
                    "n_models": len(er),
                    "effective_robustness": value,
                    "note": "",
                }
            )
    return out


def _paired_move(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Mean of a - b over the cases where both are present."""
    ok = ~np.isnan(a) & ~np.isnan(b)
    return (float((a[ok] - b[ok]).mean()), int(ok.sum())) if ok.any() else (math.nan, 0)


def _label_noise(prep: Prepared, info: MetricInfo) -> list[Record]:
    m = info.name
    cube = prep.cube(m)
    noise_conds = [(i, s, v) for i, (s, v) in enumerate(cube.conditions) if prep.shift_families.get(s) == LABEL_NOISE]
    clean_c = cube.clean()
    if not noise_conds or clean_c is None:
        return []
    components = {s for _, s, _ in noise_conds if "+" not in s}
    index = {(s, v): i for i, (s, v) in enumerate(cube.conditions)}
    out: list[Record] = []
    for nc, shift, sev in noise_conds:
        label = ConditionKey(shift, sev).label
        clean_means: dict[str, float] = {}
        noisy_means: dict[str, float] = {}
        for mi, model in enumerate(cube.models):
            clean_v = np.where(cube.case_is_id, cube.values[mi, :, clean_c], np.nan)
            noisy_v = cube.values[mi, :, nc]
            move, n = _paired_move(noisy_v, clean_v)
            if n == 0:
                continue
            ok = ~np.isnan(noisy_v) & ~np.isnan(clean_v)
            clean_means[model] = float(clean_v[ok].mean())
            noisy_means[model] = float(noisy_v[ok].mean())
            out.append(
                {
                    "kind": "label_noise_mean",
                    "model": model,
                    "metric": m,
                    "noise": label,
                    "n": n,
                    "mean_clean_reference": clean_means[model],
                    "mean_noisy_reference": noisy_means[model],
                    "move": move,
                    "note": "move = paired mean of (noisy-reference - clean-reference) values",
                }
            )
            if "+" in shift:
                continue
            for sc, (s_shift, s_sev) in enumerate(cube.conditions):
                parts = set(s_shift.split("+"))
                if s_shift == CLEAN or parts & components or prep.shift_families.get(s_shift) == LABEL_NOISE:
                    continue
                composed = [i for (cs, cv), i in index.items() if cv == s_sev and set(cs.split("+")) == parts | {shift}]
                if not composed:
                    continue
                d_clean, n_c = _paired_move(cube.values[mi, :, sc], clean_v)
                d_noisy, n_n = _paired_move(cube.values[mi, :, composed[0]], noisy_v)
                out.append(
                    {
                        "kind": "label_noise_diff",
                        "model": model,
                        "metric": m,
                        "noise": label,
                        "condition": ConditionKey(s_shift, s_sev).label,
                        "diff_clean_reference": d_clean,
                        "diff_noisy_reference": d_noisy,
                        "move": d_noisy - d_clean,
                        "n": min(n_c, n_n),
                        "note": f"noisy reference: {cube.conditions[composed[0]][0]!r} vs {label!r}",
                    }
                )
        common = sorted(set(clean_means) & set(noisy_means))
        if len(common) >= 2 and not info.descriptive:
            r_clean = rank_models([clean_means[c] for c in common], info.higher_is_better)
            r_noisy = rank_models([noisy_means[c] for c in common], info.higher_is_better)
            tau = float(kendall_tau_b(r_clean, r_noisy[None, :])[0])
            out.append(
                {
                    "kind": "label_noise_ranking",
                    "model": None,
                    "metric": m,
                    "noise": label,
                    "n_models": len(common),
                    "kendall_tau": tau,
                    **{f"rank_clean_reference:{c}": float(r) for c, r in zip(common, r_clean, strict=True)},
                    **{f"rank_noisy_reference:{c}": float(r) for c, r in zip(common, r_noisy, strict=True)},
                    "note": "" if np.isfinite(tau) else "tau undefined (all models tied)",
                }
            )
    return out


def robustness_records(prep: Prepared, settings: StatsSettings) -> list[Record]:
    """All robustness records for every analysed metric (``kind`` tells them apart)."""
    out: list[Record] = []
    for info in prep.metrics:
        if info.descriptive:
            out.append(
                {
                    "kind": "skipped",
                    "model": None,
                    "metric": info.name,
                    "note": "descriptive metric (it describes a case, it does not score it): no ROOD-MRI "
                    "degradation, corruption error, worst group, effective robustness or ranking",
                }
            )
            out.extend(_label_noise(prep, info))
            continue
        means = _means(prep, info.name)
        out.extend(_rood(prep, settings, info, means))
        out.extend(_mce(prep, settings, info, means))
        out.extend(_worst_groups(prep, info))
        out.extend(_effective(prep, info))
        out.extend(_label_noise(prep, info))
    out.extend(pooled_records(prep, settings))
    return out
