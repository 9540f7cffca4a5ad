"""Pooled OOD mean and per-case ROOD-MRI degradation with intervals and paired tests (the verdict's numbers),
checked against hand formulas, the ROOD-MRI records and scipy (paired t, its interval, Holm)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from robusteval.stats import StatsSettings, summarize
from robusteval.stats.bootstrap import bootstrap_t_intervals

pytestmark = pytest.mark.filterwarnings("error")

CONDITIONS = [("clean", "clean", 0), ("blur", "artifact", 1), ("blur", "artifact", 2), ("noise", "artifact", 3)]


def table(seed: int = 4, n: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for model, base in (("a", 0.8), ("b", 0.75), ("c", 0.7)):
        for i in range(n):
            for shift, family, sev in CONDITIONS:
                value = base - 0.05 * sev + rng.normal(0, 0.04)
                rows.append(
                    {"model": model, "family": "cnn", "case_id": f"id{i}", "subject_id": f"s{i}", "site": "A",
                     "scanner": "x", "split": "id" if shift == "clean" else "ood", "shift": shift,
                     "shift_family": family, "severity": sev, "seed": 0, "status": "ok", "error": "", "dsc": value}
                )  # fmt: skip
    # an OOD-site case has no shifted conditions: it never enters the pooled numbers
    rows.append({**rows[0], "case_id": "ood0", "site": "B", "split": "ood", "shift_family": "site", "dsc": 0.1})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def result() -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    cases = table()
    settings = StatsSettings(n_resamples=1000)
    return cases, summarize(cases, ["dsc"], settings)["robustness"]


def _wide(cases: pd.DataFrame, model: str) -> pd.DataFrame:
    sub = cases[(cases["model"] == model) & (cases["site"] == "A")]
    return sub.pivot_table(index="case_id", columns=["shift", "severity"], values="dsc")


def test_pooled_ood_mean_and_degradation_by_hand(result: tuple[pd.DataFrame, list[dict[str, Any]]]) -> None:
    cases, records = result
    pooled = {(r["model"], r["quantity"]): r for r in records if r["kind"] == "pooled"}
    rood = {r["model"]: r for r in records if r["kind"] == "rood" and r["shift"] == "mean"}
    w1, w2 = 2 / 3, 4 / 9
    for model in ("a", "b", "c"):
        w = _wide(cases, model)
        clean = w[("clean", 0)]
        ood = (w[("blur", 1)] + w[("blur", 2)] + w[("noise", 3)]) / 3
        blur = (w1 * (clean - w[("blur", 1)]) + w2 * (clean - w[("blur", 2)])) / (w1 + w2)
        noise = clean - w[("noise", 3)]
        deg = (blur + noise) / 2
        assert pooled[(model, "ood_mean")]["estimate"] == pytest.approx(ood.mean())
        assert pooled[(model, "degradation")]["estimate"] == pytest.approx(deg.mean())
        # every ID case has every condition: the per-case decomposition equals the ROOD-MRI record
        assert pooled[(model, "degradation")]["estimate"] == pytest.approx(rood[model]["degradation"])
        assert pooled[(model, "ood_mean")]["n"] == 7
        assert pooled[(model, "ood_mean")]["n_conditions"] == 3
        ci = bootstrap_t_intervals([ood.to_numpy()], n_resamples=1000)[0]
        assert pooled[(model, "ood_mean")]["ci_low"] == pytest.approx(ci.low, abs=1e-9)
        assert pooled[(model, "ood_mean")]["ci_high"] == pytest.approx(ci.high, abs=1e-9)


def test_pooled_pairs_against_scipy_and_holm(result: tuple[pd.DataFrame, list[dict[str, Any]]]) -> None:
    from statsmodels.stats.multitest import multipletests

    cases, records = result
    vs = [r for r in records if r["kind"] == "pooled_vs" and r["quantity"] == "ood_mean"]
    assert [(r["model_a"], r["model_b"]) for r in vs] == [("a", "b"), ("a", "c"), ("b", "c")]
    p_raw = []
    for r in vs:
        da = _wide(cases, r["model_a"]).drop(columns=[("clean", 0)]).mean(axis=1)
        db = _wide(cases, r["model_b"]).drop(columns=[("clean", 0)]).mean(axis=1)
        d = (da - db).to_numpy()
        assert r["diff"] == pytest.approx(d.mean())
        test = stats.ttest_1samp(d, 0.0)
        ci = test.confidence_interval(0.95)
        assert (r["ci_low"], r["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
        assert r["p_value"] == pytest.approx(test.pvalue)
        p_raw.append(test.pvalue)
    holm = multipletests(p_raw, method="holm")[1]
    assert [r["p_adjusted"] for r in vs] == pytest.approx(list(holm))
    for r in vs:  # the interval adjusted as the p-value was: it excludes 0 exactly when significant
        level = 1 - 0.05 * r["p_value"] / r["p_adjusted"]
        assert r["adjusted_level"] == pytest.approx(level)
        q = stats.t.ppf(0.5 + level / 2, r["df"])
        assert r["ci_adjusted_low"] == pytest.approx(r["diff"] - q * r["std_error"])
        assert (r["ci_adjusted_low"] > 0 or r["ci_adjusted_high"] < 0) == r["significant"]
    assert all(r["test_family"] == "pooled:ood_mean:dsc" for r in vs)


def test_a_human_baseline_does_not_empty_the_pooled_numbers() -> None:
    """A second rater has the clean conditions only (its shifted rows are unavailable): the models' pooled
    records are those of the run without it, and it gets none."""
    cases = table()
    settings = StatsSettings(n_resamples=1000)
    without = [r for r in summarize(cases, ["dsc"], settings)["robustness"] if r["kind"] == "pooled"]
    human = cases[(cases["model"] == "a") & (cases["shift"] == "clean")].copy()
    human["model"], human["family"] = "rater2", "human"
    shifted = cases[(cases["model"] == "a") & (cases["shift"] != "clean")].copy()
    shifted["model"], shifted["family"], shifted["status"], shifted["dsc"] = "rater2", "human", "unavailable", np.nan
    records = summarize(pd.concat([cases, human, shifted], ignore_index=True), ["dsc"], settings)["robustness"]
    pooled = [r for r in records if r["kind"] == "pooled"]
    assert {r["model"] for r in pooled} == {"a", "b", "c"}
    key = ("model", "quantity", "estimate", "ci_low", "ci_high", "n")
    assert [tuple(r[k] for k in key) for r in pooled] == [tuple(r[k] for k in key) for r in without]
    assert not [r for r in records if r["kind"] == "pooled_vs" and "rater2" in (r["model_a"], r["model_b"])]
