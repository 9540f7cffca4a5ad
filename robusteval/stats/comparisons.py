"""ID vs OOD and model vs model comparisons: differences with bootstrap CIs, rank tests, multiplicity.

Conventions:

- ID vs OOD, simulated shift (``kind="paired"``): per model, shift and severity, the per-case difference
  shifted - clean on the cases present in both; mean difference with a bootstrap CI; Wilcoxon signed-rank.
- ID vs OOD, natural site split (``kind="site"``): per model, mean(OOD site) - mean(ID clean) on different
  cases, per OOD site and (with two or more OOD sites) all OOD sites pooled; two-sample bootstrap CI;
  Mann-Whitney U.
- ``degradation`` = sign * (ID - OOD) with sign = +1 for higher-is-better metrics: positive means worse OOD.
- Model vs model (``kind="pairwise"``): per condition and metric, paired differences model_a - model_b on the
  cases both models have; bootstrap CI; two-sided Wilcoxon. ``kind="significance"`` (headline metric):
  challengeR's significance map, a one-sided Wilcoxon per ordered pair that ``model`` beats ``other``.
- Multiplicity (settings.multiple_testing, Holm by default) within each ``test_family``: ID vs OOD per metric
  (all models, conditions, sites); pairwise per metric and condition; significance map per condition.
  Label-noise conditions are left out of ID vs OOD (they feed the label-noise sensitivity).
"""

from __future__ import annotations

__all__ = ["id_vs_ood", "model_vs_model"]

from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations, permutations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robusteval.stats.bootstrap import Interval, bootstrap_intervals, bootstrap_mean_differences
from robusteval.stats.frame import (
    CLEAN,
    LABEL_NOISE,
    Cube,
    Prepared,
    alpha_of,
    condition_keys,
    condition_label,
    severity_value,
)
from robusteval.stats.hypothesis import RankTestResult, adjust_families, mannwhitney, wilcoxon_many
from robusteval.stats.records import Record
from robusteval.stats.settings import StatsSettings

FloatArray = NDArray[np.float64]


def _mean_cis(diffs: Any, clusters: Any, settings: StatsSettings) -> Any:
    """Bootstrap CIs of the mean of each row of ``diffs`` (clusters used only when settings.cluster is set)."""
    return bootstrap_intervals(
        diffs,
        clusters=None if settings.cluster is None else clusters,
        statistics=("mean",),
        confidence_level=settings.confidence_level,
        n_resamples=settings.n_resamples,
        method=settings.ci_method,
        small_sample=settings.small_sample_expansion,
        seed=settings.seed,
    )["mean"]


def _ci_fields(ci: Interval) -> Record:
    return {
        "diff": ci.estimate,
        "ci_low": ci.low,
        "ci_high": ci.high,
        "std_error": ci.std_error,
        "method": ci.method,
        "n_clusters": ci.n_clusters,
    }


def _notes(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _adjust(records: list[Record], settings: StatsSettings) -> None:
    """Fill ``p_adjusted``, ``family_size`` and ``significant`` within each ``test_family``."""
    alpha = alpha_of(settings.confidence_level)
    families: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        families[r["test_family"]].append(r)
    groups = list(families.values())
    pvals = [np.array([np.nan if r["p_value"] is None else r["p_value"] for r in m], dtype=np.float64) for m in groups]
    for members, p, adjusted in zip(groups, pvals, adjust_families(pvals, settings.multiple_testing), strict=True):
        size = int(np.isfinite(p).sum())
        for r, pa in zip(members, adjusted, strict=True):
            r["p_adjusted"] = float(pa)
            r["family_size"] = size
            r["correction"] = settings.multiple_testing
            r["significant"] = bool(pa < alpha) if np.isfinite(pa) else None


def _cluster_labels(settings: StatsSettings, cube: Cube, mask: NDArray[np.bool_]) -> NDArray[Any] | None:
    return None if settings.cluster is None else cube.case_cluster[mask]


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
                        "condition": condition_label(shift, sev),
                        "site": None,
                        "metric": info.name,
                        "n": int(ok.sum()),
                        "n_id": int(ok.sum()),
                        "n_ood": int(ok.sum()),
                        "mean_id": _mean(base[ok]),
                        "mean_ood": _mean(v[ok]),
                        "test": "wilcoxon",
                        "test_family": f"id_vs_ood:{info.name}",
                        "_sign": info.sign,
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
                        "test": "mannwhitney",
                        "test_family": f"id_vs_ood:{info.name}",
                        "_sign": info.sign,
                        "note": "all OOD sites pooled" if site_name is None else "",
                    }
                )
    cis = _mean_cis(diffs, diff_clusters, settings)
    _finish(paired, cis, wilcoxon_many(diffs))
    site_cis = bootstrap_mean_differences(
        xs,
        ys,
        x_clusters=None if settings.cluster is None else xcl,
        y_clusters=None if settings.cluster is None else ycl,
        confidence_level=settings.confidence_level,
        n_resamples=settings.n_resamples,
        method=settings.ci_method,
        small_sample=settings.small_sample_expansion,
        seed=settings.seed,
    )
    _finish(site, site_cis, [mannwhitney(x, y) for x, y in zip(xs, ys, strict=True)])
    out = paired + site
    _adjust(out, settings)
    return out


def _finish(records: list[Record], cis: Sequence[Interval], tests: Sequence[RankTestResult]) -> None:
    for r, ci, t in zip(records, cis, tests, strict=True):
        sign = r.pop("_sign")
        r.update(_ci_fields(ci))
        r["degradation"] = -sign * ci.estimate if np.isfinite(ci.estimate) else None
        r["statistic"] = t.statistic
        r["p_value"] = t.p_value
        r["note"] = _notes(r["note"], ci.note, t.note)


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
                "condition": condition_label(shift, severity),
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
                if ma is not None and mb is not None and ma != mb:
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
                        "test": "wilcoxon",
                        "test_family": f"model_vs_model:{info.name}:{base['condition']}/{split}",
                    }
                )
            if info.name != settings.headline_metric:
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
                    }
                )
    cis = _mean_cis(diffs, clusters, settings)
    for r, interval, t in zip(pair_records, cis, wilcoxon_many(diffs), strict=True):
        r.update(_ci_fields(interval))
        r["statistic"] = t.statistic
        r["p_value"] = t.p_value
        r["note"] = _notes(interval.note, t.note)
    for r, t in zip(sig_records, wilcoxon_many(sig_diffs, alternative="greater"), strict=True):
        r["statistic"] = t.statistic
        r["p_value"] = t.p_value
        r["note"] = t.note
    _adjust(pair_records, settings)
    _adjust(sig_records, settings)
    return pair_records + sig_records
