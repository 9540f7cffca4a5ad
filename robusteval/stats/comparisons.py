"""ID vs OOD and model vs model comparisons (the secondary, exploratory families): t contrasts, multiplicity.

Every comparison's interval and test are one procedure (``inference.py``): the mean difference with its
cluster-robust standard error, a t test, and the interval that inverts it; the interval adjusted the same way
as the p-value (``ci_adjusted_*``) excludes 0 exactly when the adjusted p is below alpha. Subjects are the units
wherever one contributes several cases (``cluster: auto``).

- ID vs OOD, simulated shift (``kind="paired"``): per model, shift and severity, the per-case difference
  shifted - clean on the cases present in both; paired t.
- ID vs OOD, natural site split (``kind="site"``): per model, mean(OOD site) - mean(ID clean) on different
  cases, per OOD site and (with two or more OOD sites) all OOD sites pooled; Welch t.
- ``degradation`` = sign * (ID - OOD) with sign = +1 for higher-is-better metrics: positive means worse OOD
  (``None`` for descriptive metrics such as volumes: a change, not a degradation).
- Model vs model (``kind="pairwise"``): per condition and metric, paired differences model_a - model_b on the
  cases both models have; paired t. ``kind="significance"`` (headline metric): challengeR's significance map,
  a one-sided Wilcoxon per ordered pair that ``model`` beats ``other`` (no interval is shown beside it).
- Multiplicity (settings.multiple_testing, Holm by default) within each ``test_family``: ID vs OOD per metric
  (all models, conditions, sites); pairwise per metric and condition; significance map per condition. These
  families are exploratory (``exploratory: true``); the primary questions are ``primary.py``'s own family.
  Label-noise conditions are left out of ID vs OOD (they feed the label-noise sensitivity).
"""

from __future__ import annotations

__all__ = ["id_vs_ood", "model_vs_model"]

from collections.abc import Sequence
from itertools import combinations, permutations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robusteval.conditions import CLEAN, ConditionKey, severity_value
from robusteval.stats.estimates import (
    adjust_records,
    compare_paired,
    compare_two_sample,
    comparison_fields,
    comparison_note,
)
from robusteval.stats.frame import LABEL_NOISE, Cube, Prepared, condition_keys
from robusteval.stats.hypothesis import wilcoxon_many
from robusteval.stats.inference import Comparison
from robusteval.stats.records import Record
from robusteval.stats.settings import StatsSettings

FloatArray = NDArray[np.float64]


def _notes(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _adjust(records: list[Record], settings: StatsSettings) -> None:
    """Adjusted p-values and intervals within each ``test_family`` (``estimates.adjust_records``)."""
    adjust_records(records, settings)


def _cluster_labels(settings: StatsSettings, cube: Cube, mask: NDArray[np.bool_]) -> NDArray[Any] | None:
    return None if settings.cluster is None else cube.case_cluster[mask]


def _descriptive(prep: Prepared, record: Record) -> bool:
    return prep.info(str(record["metric"])).descriptive


def _mean(v: FloatArray) -> float | None:
    return float(v.mean()) if v.size else None


def id_vs_ood(prep: Prepared, settings: StatsSettings) -> list[Record]:
    """ID vs OOD differences per model (see the module doc), with adjusted p-values."""
    paired: list[Record] = []
    diffs: list[FloatArray] = []
    diff_clusters: list[NDArray[Any] | None] = []
    site: list[Record] = []
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    xcl: list[NDArray[Any] | None] = []
    ycl: list[NDArray[Any] | None] = []
    if prep.rows.empty:
        return []
    for info in prep.metrics:
        cube = prep.cube(info.name)
        clean_c = cube.clean()
        if clean_c is None:
            continue
        shifted = [
            (i, shift, sev)
            for i, (shift, sev) in enumerate(cube.conditions)
            if shift != CLEAN and prep.shift_families.get(shift) != LABEL_NOISE
        ]
        site_masks: list[tuple[str | None, NDArray[np.bool_]]] = []
        ood_cases = ~cube.case_is_id
        sites = sorted({str(s) for s in cube.case_site[ood_cases]})
        site_masks = [(s, ood_cases & (cube.case_site == s)) for s in sites]
        if len(sites) > 1:
            site_masks.append((None, ood_cases))
        for mi, model in enumerate(cube.models):
            base = cube.values[mi, :, clean_c]
            for ci, shift, sev in shifted:
                v = cube.values[mi, :, ci]
                has = cube.present[mi, :, ci]
                if not has.any():
                    continue
                ok = ~np.isnan(v) & ~np.isnan(base)
                unpaired = int((has & ~cube.present[mi, :, clean_c]).sum())
                diffs.append(v[ok] - base[ok])
                diff_clusters.append(_cluster_labels(settings, cube, ok))
                paired.append(
                    {
                        "kind": "paired",
                        "model": model,
                        "family": prep.families.get(model),
                        "shift": shift,
                        "shift_family": prep.shift_families.get(shift),
                        "severity": severity_value(sev),
                        "condition": ConditionKey(shift, sev).label,
                        "site": None,
                        "metric": info.name,
                        "n": int(ok.sum()),
                        "n_id": int(ok.sum()),
                        "n_ood": int(ok.sum()),
                        "mean_id": _mean(base[ok]),
                        "mean_ood": _mean(v[ok]),
                        "test": "paired t",
                        "test_family": f"id_vs_ood:{info.name}",
                        "exploratory": True,
                        "_sign": None if info.descriptive else info.sign,
                        "note": f"{unpaired} shifted case(s) without a clean twin left out" if unpaired else "",
                    }
                )
            okx = cube.case_is_id & ~np.isnan(base)
            if not okx.any():
                continue
            for site_name, smask in site_masks:
                oky = smask & ~np.isnan(base)
                if not cube.present[mi, smask, clean_c].any():
                    continue
                xs.append(base[okx])
                ys.append(base[oky])
                xcl.append(_cluster_labels(settings, cube, okx))
                ycl.append(_cluster_labels(settings, cube, oky))
                site.append(
                    {
                        "kind": "site",
                        "model": model,
                        "family": prep.families.get(model),
                        "shift": CLEAN,
                        "shift_family": "site",
                        "severity": 0,
                        "condition": CLEAN,
                        "site": site_name,
                        "metric": info.name,
                        "n": int(okx.sum() + oky.sum()),
                        "n_id": int(okx.sum()),
                        "n_ood": int(oky.sum()),
                        "mean_id": _mean(base[okx]),
                        "mean_ood": _mean(base[oky]),
                        "test": "welch t",
                        "test_family": f"id_vs_ood:{info.name}",
                        "exploratory": True,
                        "_sign": None if info.descriptive else info.sign,
                        "note": "all OOD sites pooled" if site_name is None else "",
                    }
                )
    _finish(paired, [compare_paired(d, u, settings) for d, u in zip(diffs, diff_clusters, strict=True)])
    _finish(
        site,
        [compare_two_sample(x, y, xu, yu, settings) for x, y, xu, yu in zip(xs, ys, xcl, ycl, strict=True)],
    )
    out = paired + site
    _adjust(out, settings)
    return out


def _finish(records: list[Record], comparisons: Sequence[Comparison]) -> None:
    for r, c in zip(records, comparisons, strict=True):
        sign = r.pop("_sign")
        r.update(comparison_fields(c))
        r["degradation"] = -sign * c.estimate if sign is not None and np.isfinite(c.estimate) else None
        if sign is None:
            r["note"] = _notes(r["note"], "descriptive metric: a change, not a degradation")
        r["note"] = _notes(r["note"], comparison_note(c))


def model_vs_model(prep: Prepared, settings: StatsSettings) -> list[Record]:
    """Pairwise paired comparisons for every metric and the headline-metric significance map."""
    pair_records: list[Record] = []
    diffs: list[FloatArray] = []
    clusters: list[NDArray[Any] | None] = []
    sig_records: list[Record] = []
    sig_diffs: list[FloatArray] = []
    if prep.rows.empty:
        return []
    keys = condition_keys(prep.rows)
    for info in prep.metrics:
        cube = prep.cube(info.name)
        for shift, severity, split in keys:
            ci = cube.condition(shift, severity)
            mask = cube.case_mask(shift, split)
            block = cube.values[:, mask, ci]  # (models, cases)
            present = [i for i in range(len(cube.models)) if cube.present[i, mask, ci].any()]
            labels = cube.case_cluster[mask]
            base = {
                "shift": shift,
                "severity": severity_value(severity),
                "condition": ConditionKey(shift, severity).label,
                "split": split,
                "metric": info.name,
            }
            for a, b in combinations(present, 2):
                va, vb = block[a], block[b]
                ok = ~np.isnan(va) & ~np.isnan(vb)
                ma, mb = _mean(va[ok]), _mean(vb[ok])
                diffs.append(va[ok] - vb[ok])
                clusters.append(None if settings.cluster is None else labels[ok])
                better = None
                if ma is not None and mb is not None and ma != mb and not info.descriptive:
                    better = cube.models[a] if info.sign * (ma - mb) > 0 else cube.models[b]
                pair_records.append(
                    {
                        "kind": "pairwise",
                        **base,
                        "model_a": cube.models[a],
                        "model_b": cube.models[b],
                        "n": int(ok.sum()),
                        "mean_a": ma,
                        "mean_b": mb,
                        "better": better,
                        "test": "paired t",
                        "test_family": f"model_vs_model:{info.name}:{base['condition']}/{split}",
                        "exploratory": True,
                    }
                )
            if info.name != settings.headline_metric or info.descriptive:
                continue
            for a, b in permutations(present, 2):
                ok = ~np.isnan(block[a]) & ~np.isnan(block[b])
                sig_diffs.append(info.sign * (block[a, ok] - block[b, ok]))
                sig_records.append(
                    {
                        "kind": "significance",
                        **base,
                        "model": cube.models[a],
                        "other": cube.models[b],
                        "n": int(ok.sum()),
                        "test": "wilcoxon (one-sided: model better than other)",
                        "test_family": f"significance_map:{info.name}:{base['condition']}/{split}",
                        "exploratory": True,
                    }
                )
    for r, d, u in zip(pair_records, diffs, clusters, strict=True):
        c = compare_paired(d, u, settings)
        r.update(comparison_fields(c))
        r["note"] = _notes(
            "descriptive metric: no better or worse" if r["better"] is None and _descriptive(prep, r) else "",
            comparison_note(c),
        )
    for r, t in zip(sig_records, wilcoxon_many(sig_diffs, alternative="greater"), strict=True):
        r["statistic"] = t.statistic
        r["p_value"] = t.p_value
        r["note"] = t.note
    _adjust(pair_records, settings)
    _adjust(sig_records, settings)
    return pair_records + sig_records
