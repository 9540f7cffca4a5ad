"""Linear mixed model: ``metric ~ family * condition (+ site)`` with a random intercept per subject.

Conventions: fitted by REML with ``statsmodels`` ``MixedLM`` on the successful rows except label-noise
conditions and the human baseline (family ``human``: a second rater, shown beside the model families, not one
of them). ``condition`` is set by ``settings.mixed_condition`` (shift name by default, reference level
``clean``); the family reference level is ``cnn`` when present, else the first family alphabetically. A site
fixed effect is added when the rows come from two or more sites. Design columns that are all zero or
linearly dependent on earlier ones (family x condition combinations absent from the data) are dropped and
listed. Warnings raised during the fit (e.g. ``ConvergenceWarning``) are captured into the ``fit`` record
(``converged``, ``warnings``) and never hidden; a model that cannot be fitted gives a ``skipped`` record
with the reason. Coefficient p-values (Wald z) are adjusted across the fit's non-intercept coefficients.

Fit what the data support: the full model ``family * condition`` is tried first, then ``family + condition``,
then ``family`` alone (each with the site term when there is one). A fit is accepted when the optimizer
converged, every fixed-effect standard error is finite and statsmodels did not warn that the Hessian is not
positive definite (a random-intercept variance on the boundary, 0, is accepted with a note: the model then
reduces to least squares). The ``fit`` record lists every attempt (``attempts``) and says which was accepted;
when none is, the ``fit`` record has ``accepted: false`` and the coefficients carry estimates only, no
interval, p-value or significance (``reported: false``), so the verdict can say that the fit failed.
"""

from __future__ import annotations

__all__ = ["MIN_SUBJECTS", "mixed_effects"]

import warnings
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.regression.mixed_linear_model import MixedLM

from robusteval.rundir import HUMAN_FAMILY
from robusteval.stats.frame import CLEAN, Prepared, alpha_of
from robusteval.stats.hypothesis import adjust_pvalues
from robusteval.stats.records import Record
from robusteval.stats.settings import StatsSettings

MIN_SUBJECTS = 5


def _skip(metric: str, reason: str) -> Record:
    return {"kind": "skipped", "metric": metric, "note": reason}


def _independent_columns(x: np.ndarray) -> list[int]:
    """Greedy left-to-right selection of linearly independent, non-zero columns (ranks of the Gram matrix)."""
    gram = x.T @ x
    keep: list[int] = []
    for j in range(x.shape[1]):
        if gram[j, j] == 0:
            continue
        trial = [*keep, j]
        if np.linalg.matrix_rank(gram[np.ix_(trial, trial)], hermitian=True) == len(trial):
            keep = trial
    return keep


def _dummies(values: pd.Series, name: str, reference: str) -> pd.DataFrame:
    """Treatment coding: one 0/1 column ``name[T.level]`` per level except ``reference``."""
    levels = [lv for lv in sorted(values.unique()) if lv != reference]
    return pd.DataFrame({f"{name}[T.{lv}]": (values == lv).astype(np.float64) for lv in levels}, index=values.index)


def _design(
    data: pd.DataFrame, ref_family: str, ref_condition: str, sites: bool, terms: str = "interaction"
) -> pd.DataFrame:
    """Fixed-effects design: intercept, family, condition, family x condition (patsy naming), site.

    ``terms``: ``interaction`` (all of them), ``additive`` (no family x condition) or ``family`` (no condition).
    """
    fam = _dummies(data["family"], "family", ref_family)
    cond = _dummies(data["condition"], "condition", ref_condition)
    parts = [pd.DataFrame({"Intercept": np.ones(len(data))}, index=data.index), fam]
    if terms != "family":
        parts.append(cond)
    if terms == "interaction":
        inter = {f"{f}:{c}": fam[f] * cond[c] for f in fam.columns for c in cond.columns}
        parts.append(pd.DataFrame(inter, index=data.index))
    if sites:
        parts.append(_dummies(data["site"], "site", sorted(data["site"].unique())[0]))
    return pd.concat(parts, axis=1)


def _condition(rows: pd.DataFrame, mode: str) -> pd.Series:
    if mode == "shift":
        return rows["shift"].astype(str)
    if mode == "shift_family":
        return rows["shift_family"].where(rows["shift"] != CLEAN, CLEAN).astype(str)
    return rows["condition"].astype(str)


def _fit_one(prep: Prepared, settings: StatsSettings, metric: str) -> list[Record]:
    rows = prep.rows.loc[~prep.rows["is_label_noise"] & (prep.rows["family"] != HUMAN_FAMILY)]
    rows = rows.loc[rows[metric].notna()]
    data = pd.DataFrame(
        {
            "y": rows[metric].to_numpy(dtype=np.float64),
            "family": rows["family"].astype(str).to_numpy(),
            "condition": _condition(rows, settings.mixed_condition).to_numpy(),
            "site": rows["site"].astype(str).to_numpy(),
            "subject": rows["subject_id"].astype(str).to_numpy(),
        }
    )
    families = sorted(data["family"].unique())
    subjects = data["subject"].nunique()
    if len(families) < 2:
        return [_skip(metric, f"only one model family ({', '.join(families) or 'none'}): no family effect to fit")]
    if subjects < MIN_SUBJECTS:
        return [_skip(metric, f"{subjects} subject(s): too few groups for a random intercept (< {MIN_SUBJECTS})")]
    ref_family = "cnn" if "cnn" in families else families[0]
    conditions = sorted(data["condition"].unique())
    ref_condition = CLEAN if CLEAN in conditions else conditions[0]
    has_sites = data["site"].nunique() > 1
    site = " + site" if has_sites else ""
    candidates = [("interaction", f"{metric} ~ family * condition{site}")] if len(conditions) > 1 else []
    if len(conditions) > 1:
        candidates.append(("additive", f"{metric} ~ family + condition{site}"))
    candidates.append(("family", f"{metric} ~ family{site}"))
    attempts: list[Record] = []
    chosen: tuple[str, Any, pd.DataFrame, list[str], list[str]] | None = None
    last: tuple[str, Any, pd.DataFrame, list[str], list[str]] | None = None
    for terms, formula in candidates:
        x = _design(data, ref_family, ref_condition, has_sites, terms)
        keep = _independent_columns(x.to_numpy(dtype=np.float64))
        dropped = [str(c) for i, c in enumerate(x.columns) if i not in keep]
        x = x.iloc[:, keep]
        try:
            with warnings.catch_warnings(record=True) as messages, np.errstate(all="ignore"):
                warnings.simplefilter("always")
                result = MixedLM(data["y"], x, groups=data["subject"]).fit(reml=True)
            caught = [f"{type(m.message).__name__}: {m.message}" for m in messages]
        except (np.linalg.LinAlgError, ValueError) as exc:
            attempts.append({"formula": formula, "accepted": False, "reason": f"could not be fitted: {exc}"})
            continue
        reason = _rejection(result, caught)
        attempts.append(
            {"formula": formula, "accepted": not reason, "converged": bool(getattr(result, "converged", False)),
             "warnings": caught, "reason": reason}
        )  # fmt: skip
        last = (formula, result, x, dropped, caught)
        if not reason:
            chosen = last
            break
    if last is None:
        reasons = "; ".join(str(a["reason"]) for a in attempts)
        return [_skip(metric, f"MixedLM could not be fitted: {reasons}") | {"formula": candidates[0][1]}]
    accepted = chosen is not None
    formula, result, x, dropped, caught = chosen if chosen is not None else last
    base: Record = {
        "metric": metric,
        "formula": formula,
        "full_formula": candidates[0][1],
        "simplified": formula != candidates[0][1],
        "groups": "subject_id",
        "n_obs": len(data),
        "n_groups": subjects,
        "n_families": len(families),
        "n_conditions": len(conditions),
        "site_term": has_sites,
        "condition_factor": settings.mixed_condition,
        "dropped_terms": dropped,
    }
    converged = bool(getattr(result, "converged", False))
    fe = result.fe_params
    bse = result.bse_fe
    alpha = alpha_of(settings.confidence_level)
    ci = result.conf_int(alpha=alpha).loc[fe.index]
    z = fe / bse
    p = result.pvalues.loc[fe.index]
    notes = []
    if not accepted:
        notes.append(
            f"no model the data support could be fitted ({len(attempts)} tried): estimates are shown without "
            "intervals or tests"
        )
    elif formula != candidates[0][1]:
        rejected = "; ".join(f"{a['formula']}: {a['reason']}" for a in attempts if not a["accepted"])
        notes.append(f"simplified to {formula} ({rejected})")
    if not converged:
        notes.append("the optimizer did not converge: treat estimates with caution")
    if caught:
        notes.append(f"{len(caught)} warning(s) during the fit")
    if any("boundary" in w for w in caught):
        notes.append("the subject variance is on the boundary (0): the fit reduces to least squares")
    if dropped:
        notes.append(f"{len(dropped)} inestimable design column(s) dropped")
    fit: Record = {
        "kind": "fit",
        **base,
        "accepted": accepted,
        "converged": converged,
        "warnings": caught,
        "attempts": attempts,
        "method": "REML",
        "log_likelihood": float(result.llf),
        "group_var": float(np.asarray(result.cov_re)[0, 0]),
        "residual_var": float(result.scale),
        "note": "; ".join(notes),
    }
    coef_records: list[Record] = []
    for term in fe.index:
        coef_records.append(
            {
                "kind": "coefficient",
                "metric": metric,
                "term": str(term),
                "estimate": float(fe[term]),
                "std_error": float(bse[term]) if accepted else None,
                "z": float(z[term]) if accepted else None,
                "ci_low": float(ci.loc[term].iloc[0]) if accepted else None,
                "ci_high": float(ci.loc[term].iloc[1]) if accepted else None,
                "p_value": float(p[term]) if accepted else None,
                "converged": converged,
                "reported": accepted,
                "test_family": f"mixed:{metric}",
                "note": "" if accepted else "the fit failed: estimate only, no interval or test",
            }
        )
    tested = [r for r in coef_records if r["term"] != "Intercept" and r["p_value"] is not None]
    adjusted = adjust_pvalues([r["p_value"] for r in tested], settings.multiple_testing)
    for r, pa in zip(tested, adjusted, strict=True):
        r["p_adjusted"] = float(pa)
        r["correction"] = settings.multiple_testing
        r["significant"] = bool(pa < alpha) if np.isfinite(pa) else None
    for r in coef_records:
        r.setdefault("p_adjusted", None)
        r.setdefault("significant", None)
    return [fit, *coef_records]


def _rejection(result: Any, caught: list[str]) -> str:
    """Why a fit is not accepted ("" when it is): no convergence, a non-finite standard error, or statsmodels'
    warning that the Hessian is not positive definite."""
    if not bool(getattr(result, "converged", False)):
        return "the optimizer did not converge"
    bse = np.asarray(result.bse_fe, dtype=np.float64)
    if not np.all(np.isfinite(bse)):
        return "some fixed-effect standard errors are not finite"
    if any("Hessian" in w and "positive definite" in w for w in caught):
        return "the Hessian is not positive definite (standard errors unreliable)"
    return ""


def mixed_effects(prep: Prepared, settings: StatsSettings) -> list[Record]:
    """Fit records, coefficient records (with CIs and adjusted p-values) or ``skipped`` records per metric."""
    metrics = settings.mixed_metrics or (settings.headline_metric,)
    analysed = {m.name for m in prep.metrics}
    out: list[Record] = []
    for metric in metrics:
        if metric not in analysed:
            out.append(_skip(metric, f"metric {metric!r} is not among the analysed metrics"))
            continue
        out.extend(_fit_one(prep, settings, metric))
    return out
