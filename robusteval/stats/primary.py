"""The primary questions: a small declared family, tested together, with intervals that agree and power.

Per model (every model but the human baseline, unless ``statistics.primary.models`` names them), on the
primary metric (the headline metric unless declared):

- ``id_score``: the mean on the ID clean cases, with the cells' interval (an estimate, no test);
- ``site_drop``: ``sign * (mean ID clean - mean OOD sites pooled)`` (+ = worse OOD): Welch t, the ID and the
  OOD-site subjects two independent samples;
- ``shift_degradation``: the mean over ID cases of each case's ROOD-MRI degradation over the simulated shifts
  (its own clean value minus its shifted values, severity-weighted ``alpha^s``, averaged over shifts; + =
  worse; ``pooled.py``): paired t.

Per pair of model families (A, B) (``family_pairs``; by default every pair present, the human baseline
included), each case's family value is the mean over the family's models (on the cases every one of them
has), and the question is the difference A - B of the same three quantities: paired t for the ID score and
the degradation, Welch t on the per-case differences for the site drop (a difference in differences).

Subjects are the units wherever one holds several cases (``cluster: auto``). Multiplicity: one family,
``primary:<metric>``, adjusted by ``statistics.primary.correction`` (Holm by default), separate from the
exploratory per-condition families; each adjusted interval excludes 0 exactly when its adjusted p is below
alpha (``inference.adjusted_interval``). Power: for each test, the minimum detectable difference (``mdd``) at
``alpha / m`` (the level the smallest p must reach under Holm or Bonferroni with m tests) and
``primary.power``, the power at ``primary.target_difference`` and the units it would need (``n_needed``),
and the smallest p an exact rank test could reach at this n (``p_floor_rank``). A ``kind: family`` record
sums the family up for the report's power line.
"""

from __future__ import annotations

__all__ = ["FAMILY_ORDER", "primary_records"]

import math
from dataclasses import replace
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robusteval.rundir import HUMAN_FAMILY
from robusteval.stats.estimates import (
    adjust_records,
    compare_paired,
    compare_two_sample,
    comparison_fields,
    comparison_note,
    interval_flags,
    mean_intervals,
)
from robusteval.stats.frame import CLEAN, LABEL_NOISE, Cube, Prepared, alpha_of
from robusteval.stats.inference import Comparison, minimum_detectable, power_t, rank_test_floor, units_needed
from robusteval.stats.records import Record
from robusteval.stats.settings import StatsSettings

FAMILY_ORDER = ("cnn", "vit", "hybrid", "classical", "external", HUMAN_FAMILY)
"""The order families are paired in (others follow alphabetically)."""

FloatArray = NDArray[np.float64]

QUESTION_LABELS = {
    "id_score": "ID score",
    "site_drop": "OOD-site drop",
    "shift_degradation": "shift degradation",
}
TESTS = {"id_score": "paired t", "site_drop": "welch t", "shift_degradation": "paired t"}


def _family_key(family: str) -> tuple[int, str]:
    return (FAMILY_ORDER.index(family), "") if family in FAMILY_ORDER else (len(FAMILY_ORDER), family)


def _oriented(c: Comparison, sign: float) -> Comparison:
    """The comparison of ``sign * theta`` (the interval flips for sign -1)."""
    if sign > 0:
        return c
    return replace(c, estimate=-c.estimate, statistic=-c.statistic, ci_low=-c.ci_high, ci_high=-c.ci_low)


def _degradation(prep: Prepared, settings: StatsSettings, cube: Cube, models: list[int]) -> tuple[FloatArray, Any]:
    """Per ID case (those with every simulated shift for every one of ``models``): each model's ROOD-MRI
    degradation with the case's own clean value, shape (models, cases), and the cases' unit labels."""
    shift_idx = [
        k for k, (s, _) in enumerate(cube.conditions) if s != CLEAN and prep.shift_families.get(s) != LABEL_NOISE
    ]
    clean_c = cube.clean()
    ids = np.flatnonzero(cube.case_is_id)
    if not shift_idx or clean_c is None or not len(ids) or not models:
        return np.empty((len(models), 0)), np.empty(0, dtype=object)
    sub = np.asarray(models, dtype=np.intp)
    shifted = cube.values[np.ix_(sub, ids, np.asarray(shift_idx, dtype=np.intp))]
    clean = cube.values[sub][:, ids, clean_c]
    complete = np.isfinite(shifted).all(axis=(0, 2)) & np.isfinite(clean).all(axis=0)
    shifted, clean = shifted[:, complete], clean[:, complete]
    sign = prep.info(settings.primary_metric).sign
    per_shift: dict[str, list[tuple[int, float]]] = {}
    for j, k in enumerate(shift_idx):
        shift, severity = cube.conditions[k]
        per_shift.setdefault(str(shift), []).append((j, float(severity)))
    parts = []
    for cols in per_shift.values():
        w = np.array([settings.rood_alpha**s for _, s in cols])
        drop = sign * (clean[:, :, None] - shifted[:, :, [j for j, _ in cols]])
        parts.append((drop * w).sum(axis=2) / w.sum())
    return np.mean(parts, axis=0), cube.case_cluster[ids][complete]


def _question(
    question: str, scope: str, metric: str, c: Comparison | None, *, interval: Any = None, **fields: Any
) -> Record:
    """A question record: the comparison's fields (or an estimate with its interval), named and labelled."""
    rec: Record = {"kind": "question", "question": question, "scope": scope, "metric": metric, **fields}
    rec["test"] = TESTS[question] if c is not None else None
    rec["test_family"] = f"primary:{metric}"
    if c is not None:
        f = comparison_fields(c)
        f["estimate"] = f.pop("diff")
        rec.update(f)
        rec["n"] = c.n
        rec["note"] = "; ".join(p for p in (rec.get("note", ""), comparison_note(c)) if p)
    else:
        iv = interval
        flags, notes = interval_flags(iv.n, iv.n_clusters)
        rec.update(
            estimate=iv.estimate, ci_low=iv.low, ci_high=iv.high, std_error=iv.std_error, method=iv.method,
            n=iv.n, n_units=iv.n_clusters, n_clusters=iv.n_clusters, p_value=None, **flags,
            note="; ".join(p for p in (rec.get("note", ""), iv.note, *notes) if p),
        )  # fmt: skip
    return rec


def _two_sample(
    x: FloatArray, y: FloatArray, xu: Any, yu: Any, sign: float, settings: StatsSettings
) -> tuple[Comparison, float]:
    """``sign * (mean x - mean y)`` (x: ID, y: OOD sites) and the rank-test floor of the two groups."""
    c = _oriented(compare_two_sample(x, y, xu, yu, settings), -sign)
    gx = len(set(np.asarray(xu).tolist())) if xu is not None else len(x)
    gy = len(set(np.asarray(yu).tolist())) if yu is not None else len(y)
    return c, rank_test_floor(gx, gy)


def primary_records(prep: Prepared, settings: StatsSettings) -> list[Record]:
    """``question`` records (per model and per family pair) and one ``family`` record; see the module doc."""
    spec = settings.primary
    metric = settings.primary_metric
    if metric not in {m.name for m in prep.metrics}:
        return [{"kind": "skipped", "metric": metric, "note": f"primary metric {metric!r} is not analysed"}]
    info = prep.info(metric)
    if info.descriptive:
        note = f"primary metric {metric!r} is descriptive (no better or worse): no primary questions"
        return [{"kind": "skipped", "metric": metric, "note": note}]
    if prep.rows.empty:
        return [{"kind": "skipped", "metric": metric, "note": "no successful rows"}]
    cube = prep.cube(metric)
    sign = info.sign
    clean_c = cube.clean()
    units_all = cube.case_cluster
    families = {m: prep.families.get(m, "?") for m in cube.models}
    if spec.models is None:
        models = [m for m in cube.models if families[m] != HUMAN_FAMILY]
    else:
        models = [m for m in spec.models if m in cube.models]
    missing = [] if spec.models is None else [m for m in spec.models if m not in cube.models]
    out: list[Record] = []
    id_mask = cube.case_is_id
    ood_mask = ~cube.case_is_id
    quantities = spec.quantities
    has_shifts = any(s != CLEAN and prep.shift_families.get(s) != LABEL_NOISE for s, _ in cube.conditions)

    def values(mi: list[int], mask: NDArray[np.bool_]) -> tuple[FloatArray, Any]:
        """Per case the mean over models ``mi`` at clean, on the cases of ``mask`` every one of them has."""
        if clean_c is None:
            return np.empty(0), np.empty(0, dtype=object)
        block = cube.values[np.asarray(mi, dtype=np.intp)][:, :, clean_c][:, mask]
        ok = np.isfinite(block).all(axis=0)
        return block[:, ok].mean(axis=0), units_all[mask][ok]

    floors: dict[int, float] = {}
    id_scores: list[tuple[Record, FloatArray, Any]] = []
    for model in models:
        mi = cube.models.index(model)
        base: dict[str, Any] = {"model": model, "family": families[model], "label_subject": model}
        x, xu = values([mi], id_mask)
        if "id_score" in quantities:
            id_scores.append(({**base}, x, xu))
        if "site_drop" in quantities:
            y, yu = values([mi], ood_mask)
            if len(x) and len(y):
                c, floor = _two_sample(x, y, xu, yu, sign, settings)
                rec = _question("site_drop", "model", metric, c, **base, n_id=len(x), n_ood=len(y))
                floors[id(rec)] = floor
                out.append(rec)
            else:
                out.append(
                    _missing("site_drop", "model", metric, base, "no OOD-site cases" if len(x) else "no ID cases")
                )
        if "shift_degradation" in quantities:
            deg, du = _degradation(prep, settings, cube, [mi])
            if deg.shape[1]:
                c = compare_paired(deg[0], du, settings)
                rec = _question("shift_degradation", "model", metric, c, **base, n_id=deg.shape[1])
                floors[id(rec)] = rank_test_floor(c.n_units)
                out.append(rec)
            else:
                why = "no ID case has every simulated shift" if has_shifts else "the run has no simulated shifts"
                out.append(_missing("shift_degradation", "model", metric, base, why))
    present = sorted({families[m] for m in cube.models}, key=_family_key)
    members = {f: [i for i, m in enumerate(cube.models) if families[m] == f] for f in present}
    pairs = list(combinations(present, 2)) if spec.family_pairs is None else [(a, b) for a, b in spec.family_pairs]
    for fa, fb in pairs:
        base = {"family_a": fa, "family_b": fb, "label_subject": f"{fa} - {fb}"}
        if fa not in members or fb not in members:
            absent = ", ".join(f for f in (fa, fb) if f not in members)
            for q in quantities:
                out.append(_missing(q, "family_pair", metric, base, f"no model of family {absent} in the run"))
            continue
        ma, mb = members[fa], members[fb]
        base["models_a"] = [cube.models[i] for i in ma]
        base["models_b"] = [cube.models[i] for i in mb]
        if clean_c is None:
            block = np.full((len(ma) + len(mb), len(cube.cases)), np.nan)
        else:
            block = cube.values[np.asarray(ma + mb, dtype=np.intp)][:, :, clean_c]
        if "id_score" in quantities:
            d, du = _pair_diff(block, len(ma), id_mask, units_all)
            if len(d):
                c = compare_paired(d, du, settings)
                rec = _question("id_score", "family_pair", metric, c, **base, n_id=len(d))
                floors[id(rec)] = rank_test_floor(c.n_units)
                out.append(rec)
            else:
                out.append(_missing("id_score", "family_pair", metric, base, "no ID case with every model of both"))
        if "site_drop" in quantities:
            dx, dxu = _pair_diff(block, len(ma), id_mask, units_all)
            dy, dyu = _pair_diff(block, len(ma), ood_mask, units_all)
            if len(dx) and len(dy):
                c, floor = _two_sample(dx, dy, dxu, dyu, sign, settings)
                rec = _question("site_drop", "family_pair", metric, c, **base, n_id=len(dx), n_ood=len(dy))
                floors[id(rec)] = floor
                out.append(rec)
            else:
                out.append(_missing("site_drop", "family_pair", metric, base, "no ID or OOD-site cases with "
                                    "every model of both families"))  # fmt: skip
        if "shift_degradation" in quantities:
            deg, du = _degradation(prep, settings, cube, ma + mb)
            if deg.shape[1]:
                d = deg[: len(ma)].mean(axis=0) - deg[len(ma) :].mean(axis=0)
                c = compare_paired(d, du, settings)
                rec = _question("shift_degradation", "family_pair", metric, c, **base, n_id=len(d))
                floors[id(rec)] = rank_test_floor(c.n_units)
                out.append(rec)
            else:
                why = "no ID case has every simulated shift for every model of both families"
                if not has_shifts:
                    why = "the run has no simulated shifts"
                if HUMAN_FAMILY in (fa, fb):
                    why += " (the human baseline has no shifted conditions)"
                out.append(_missing("shift_degradation", "family_pair", metric, base, why))
    if id_scores:
        intervals = mean_intervals([x for _, x, _ in id_scores], [u for _, _, u in id_scores], settings)
        scores = [
            _question("id_score", "model", metric, None, interval=iv, **base, n_id=iv.n)
            for (base, _, _), iv in zip(id_scores, intervals, strict=True)
        ]
        out = scores + out
    tested = [r for r in out if "_comparison" in r]
    comparisons = {id(r): r["_comparison"] for r in tested}
    adjust_records(tested, settings, spec.correction)
    alpha = alpha_of(settings.confidence_level)
    m = sum(1 for r in tested if r.get("p_value") is not None and math.isfinite(r["p_value"]))
    alpha_test = alpha / max(m, 1)
    undetectable = 0
    for r in out:
        r["label"] = _label(r)
        r.pop("label_subject", None)
        if id(r) not in comparisons:
            r.setdefault("p_adjusted", None)
            r.setdefault("significant", None)
            continue
        se, df = float(r.get("std_error") or math.nan), float(r.get("df") or math.nan)
        ok = math.isfinite(se) and math.isfinite(df) and se > 0
        r["mdd"] = minimum_detectable(se, df, alpha_test, spec.power) if ok else None
        r["mdd_alpha"] = alpha_test
        r["mdd_power"] = spec.power
        r["p_floor_rank"] = floors.get(id(r))
        r["target_difference"] = spec.target_difference
        r["power_at_target"] = None
        r["n_needed"] = None
        if ok and spec.target_difference is not None:
            pw = power_t(spec.target_difference, se, df, alpha_test)
            r["power_at_target"] = pw
            if pw < spec.power:
                undetectable += 1
                c = comparisons[id(r)]
                r["n_needed"] = units_needed(c, spec.target_difference, alpha_test, spec.power)
    n_id = int((id_mask & _any_clean(cube)).sum())
    out.append(
        {
            "kind": "family",
            "metric": metric,
            "test_family": f"primary:{metric}",
            "correction": spec.correction,
            "family_size": m,
            "alpha": alpha,
            "alpha_per_test": alpha_test,
            "power": spec.power,
            "target_difference": spec.target_difference,
            "n_undetectable": undetectable,
            "n_id_cases": n_id,
            "n_ood_site_cases": int((ood_mask & _any_clean(cube)).sum()),
            "n_id_units": len(set(units_all[id_mask & _any_clean(cube)].tolist())),
            "models": models,
            "family_pairs": [list(p) for p in pairs],
            "note": f"model(s) {', '.join(missing)} named in statistics.primary are not in the run" if missing else "",
        }
    )
    return out


def _any_clean(cube: Cube) -> NDArray[np.bool_]:
    c = cube.clean()
    if c is None:
        return np.zeros(len(cube.cases), dtype=bool)
    return np.asarray(cube.present[:, :, c].any(axis=0), dtype=bool)


def _pair_diff(block: FloatArray, n_a: int, mask: NDArray[np.bool_], units: Any) -> tuple[FloatArray, Any]:
    """Per case of ``mask`` with every model: family A's mean minus family B's (models A first in ``block``)."""
    sub = block[:, mask]
    ok = np.isfinite(sub).all(axis=0)
    d = sub[:n_a, ok].mean(axis=0) - sub[n_a:, ok].mean(axis=0)
    return d, units[mask][ok]


def _missing(question: str, scope: str, metric: str, base: dict[str, Any], why: str) -> Record:
    return {
        "kind": "question",
        "question": question,
        "scope": scope,
        "metric": metric,
        **base,
        "estimate": None,
        "p_value": None,
        "test": None,
        "test_family": f"primary:{metric}",
        "note": f"not asked: {why}",
    }


def _label(r: Record) -> str:
    what = QUESTION_LABELS[str(r["question"])]
    subject = r.get("label_subject") or r.get("model") or f"{r.get('family_a')} - {r.get('family_b')}"
    if r["scope"] == "family_pair":
        return f"{what}: {subject} (difference of families)"
    return f"{what}: {subject}"
