"""Mixed model: estimates equal a direct statsmodels fit; skips and warnings are reported, not raised."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from robusteval.stats import StatsSettings
from robusteval.stats.frame import prepare
from robusteval.stats.mixed import mixed_effects
from robusteval.stats.synthetic import make_cases

pytestmark = pytest.mark.filterwarnings("error")

SETTINGS = StatsSettings(n_resamples=200)


def _fit(cases: pd.DataFrame, settings: StatsSettings = SETTINGS) -> list[dict[str, Any]]:
    return mixed_effects(prepare(cases, ["dsc"]), settings)


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return make_cases(n_id=10, ood_sites={"B": 8}, label_noise=("flip",), seed=11)


def test_estimates_equal_direct_statsmodels_fit(cases: pd.DataFrame) -> None:
    records = _fit(cases)
    fit = next(r for r in records if r["kind"] == "fit")
    coefs = {r["term"]: r for r in records if r["kind"] == "coefficient"}
    assert fit["formula"] == "dsc ~ family * condition + site"
    assert fit["site_term"] is True
    assert fit["n_groups"] == 18
    data = cases.loc[(cases["status"] == "ok") & (cases["shift_family"] != "label_noise")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = smf.mixedlm(
            "dsc ~ C(family, Treatment('cnn')) * C(shift, Treatment('clean')) + C(site)",
            data,
            groups=data["subject_id"],
        ).fit(reml=True)
    assert fit["n_obs"] == len(data)
    assert fit["log_likelihood"] == pytest.approx(float(direct.llf), rel=1e-6)
    key = "C(family, Treatment('cnn'))[T.vit]:C(shift, Treatment('clean'))[T.motion]"
    assert coefs["family[T.vit]:condition[T.motion]"]["estimate"] == pytest.approx(
        float(direct.fe_params[key]), abs=1e-6
    )
    assert coefs["Intercept"]["p_adjusted"] is None
    slope = coefs["site[T.B]"]
    assert slope["ci_low"] < slope["estimate"] < slope["ci_high"]
    assert slope["p_adjusted"] >= slope["p_value"]


def test_one_family_is_skipped_with_a_reason(cases: pd.DataFrame) -> None:
    (rec,) = _fit(cases.assign(family="cnn"))
    assert rec["kind"] == "skipped"
    assert "one model family" in rec["note"]


def test_too_few_subjects_is_skipped(cases: pd.DataFrame) -> None:
    few = cases.loc[cases["subject_id"].isin(["A-s000", "A-s001", "B-s000"])]
    (rec,) = _fit(few)
    assert rec["kind"] == "skipped"
    assert "subject" in rec["note"]


def test_fit_warnings_are_captured_not_raised(cases: pd.DataFrame) -> None:
    """No subject effect at all: the random-intercept variance sits on the boundary (ConvergenceWarning)."""
    flat = cases.copy()
    rng = np.random.default_rng(0)
    flat["dsc"] = 0.7 + 0.05 * (flat["family"] == "vit") + rng.normal(0, 0.02, len(flat))
    records = _fit(flat)
    fit = next(r for r in records if r["kind"] == "fit")
    assert any("ConvergenceWarning" in w for w in fit["warnings"])
    assert "warning" in fit["note"]
    assert isinstance(fit["converged"], bool)


def test_inestimable_interactions_are_dropped(cases: pd.DataFrame) -> None:
    thin = cases.loc[~((cases["family"] == "vit") & (cases["shift"] == "bias"))]
    fit = next(r for r in _fit(thin) if r["kind"] == "fit")
    assert "family[T.vit]:condition[T.bias]" in fit["dropped_terms"]


def test_metric_not_analysed_and_condition_factor(cases: pd.DataFrame) -> None:
    settings = StatsSettings(n_resamples=200, mixed_metrics=("hd95",))
    (rec,) = mixed_effects(prepare(cases, ["dsc"]), settings)
    assert rec["kind"] == "skipped"
    per_family = _fit(cases, StatsSettings(n_resamples=200, mixed_condition="shift_family"))
    terms = {r["term"] for r in per_family if r["kind"] == "coefficient"}
    assert "condition[T.artifact]" in terms


def test_a_fit_that_fails_is_simplified_then_reported_as_failed(
    cases: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fit what the data support: a rejected full model gives way to the additive one; when every model is
    rejected the fit says so and its coefficients carry no interval, p-value or significance."""
    import robusteval.stats.mixed as mixed_module

    calls: list[str] = []

    def reject_first(result: Any, caught: list[str]) -> str:
        calls.append("x")
        return "the Hessian is not positive definite (forced)" if len(calls) == 1 else ""

    monkeypatch.setattr(mixed_module, "_rejection", reject_first)
    records = _fit(cases)
    fit = next(r for r in records if r["kind"] == "fit")
    assert (fit["formula"], fit["simplified"], fit["accepted"]) == ("dsc ~ family + condition + site", True, True)
    assert fit["full_formula"] == "dsc ~ family * condition + site"
    assert [a["accepted"] for a in fit["attempts"]] == [False, True]
    assert "simplified to" in fit["note"]
    assert not any(":" in r["term"] for r in records if r["kind"] == "coefficient")

    monkeypatch.setattr(mixed_module, "_rejection", lambda result, caught: "did not converge (forced)")
    records = _fit(cases)
    fit = next(r for r in records if r["kind"] == "fit")
    assert fit["accepted"] is False
    assert len(fit["attempts"]) == 3
    coefs = [r for r in records if r["kind"] == "coefficient"]
    assert coefs
    assert all(r["reported"] is False and r["p_value"] is None and r["significant"] is None for r in coefs)
    assert all(r["ci_low"] is None for r in coefs)
