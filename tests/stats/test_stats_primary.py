"""The primary questions: the declared family, each estimate and test against scipy, Holm within the family,
intervals that agree with the adjusted p-values, power and the n it would need; descriptive metrics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from stats_references import hall_reference
from statsmodels.stats.multitest import multipletests

from robusteval.errors import RobustEvalError
from robusteval.stats import PrimarySpec, StatsSettings, minimum_detectable, power_t, primary_questions, summarize
from robusteval.stats.synthetic import make_cases

pytestmark = pytest.mark.filterwarnings("error")

Records = list[dict[str, Any]]


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    """The default run's shape: a CNN and a ViT, 6 ID cases, two OOD sites of 6, shifts at three severities."""
    models = {"unet": "cnn", "unetr": "vit"}
    return make_cases(models=models, n_id=6, ood_sites={"B": 6, "C": 6}, severities=(1, 3, 5), seed=4)


@pytest.fixture(scope="module")
def records(cases: pd.DataFrame) -> Records:
    """The default: Student's / Welch's t, so each test equals scipy's (Hall's option is checked below)."""
    return primary_questions(cases, ["dsc"], StatsSettings(n_resamples=500))


def _q(records: Records, question: str, **match: Any) -> dict[str, Any]:
    return next(
        r
        for r in records
        if r["kind"] == "question" and r["question"] == question and all(r.get(k) == v for k, v in match.items())
    )


def _ok(cases: pd.DataFrame, model: str) -> pd.DataFrame:
    return cases[(cases["model"] == model) & (cases["status"] == "ok")]


def test_the_default_family_is_small_and_holm_adjusted(records: Records) -> None:
    tested = [r for r in records if r["kind"] == "question" and r["p_value"] is not None]
    assert len(tested) == 7  # per model: site drop, shift degradation; per family pair: three differences
    assert {r["test_family"] for r in tested} == {"primary:dsc"}
    holm = multipletests([r["p_value"] for r in tested], method="holm")[1]
    np.testing.assert_allclose([r["p_adjusted"] for r in tested], holm)
    for r in tested:
        assert r["family_size"] == 7
        assert r["correction"] == "holm"
        excludes = r["ci_adjusted_low"] > 0 or r["ci_adjusted_high"] < 0
        assert excludes == r["significant"]
        assert r["ci_adjusted_low"] <= r["ci_low"] <= r["estimate"] <= r["ci_high"] <= r["ci_adjusted_high"]
    family = next(r for r in records if r["kind"] == "family")
    assert (family["family_size"], family["alpha_per_test"]) == (7, pytest.approx(0.05 / 7))
    scores = [r for r in records if r["kind"] == "question" and r["question"] == "id_score" and r["scope"] == "model"]
    assert [r["model"] for r in scores] == ["unet", "unetr"]
    assert all(r["p_value"] is None and r["p_adjusted"] is None for r in scores)  # estimates, not tests
    assert records[0]["question"] == "id_score"


def test_site_drop_is_welch_on_id_vs_the_pooled_sites(records: Records, cases: pd.DataFrame) -> None:
    ok = _ok(cases, "unet")
    x = ok[(ok["shift"] == "clean") & (ok["split"] == "id")]["dsc"].to_numpy()
    y = ok[(ok["shift"] == "clean") & (ok["split"] == "ood")]["dsc"].to_numpy()
    rec = _q(records, "site_drop", model="unet")
    assert rec["estimate"] == pytest.approx(x.mean() - y.mean())  # + = worse OOD
    welch = stats.ttest_ind(x, y, equal_var=False)
    assert rec["p_value"] == pytest.approx(float(welch.pvalue), rel=1e-10)
    ci = welch.confidence_interval(0.95)
    assert (rec["ci_low"], rec["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert rec["p_floor_rank"] == pytest.approx(float(stats.mannwhitneyu(x, y + 10, method="exact").pvalue))


def _degradation(cases: pd.DataFrame, models: list[str], alpha: float = 2 / 3) -> pd.Series:
    """Per ID case: the mean over ``models`` of the ROOD-MRI degradation with the case's own clean value."""
    per_model = []
    for model in models:
        ok = _ok(cases, model)
        clean = ok[(ok["shift"] == "clean") & (ok["split"] == "id")].set_index("case_id")["dsc"]
        per_shift = []
        for _, g in ok[ok["shift"] != "clean"].groupby("shift"):
            wide = g.pivot(index="case_id", columns="severity", values="dsc")
            w = np.array([alpha**s for s in wide.columns])
            per_shift.append(((clean.loc[wide.index].to_numpy()[:, None] - wide.to_numpy()) * w).sum(1) / w.sum())
        per_model.append(pd.Series(np.mean(per_shift, axis=0), index=wide.index))
    return pd.concat(per_model, axis=1).mean(axis=1)


def test_shift_degradation_is_paired_t_on_each_cases_rood_degradation(records: Records, cases: pd.DataFrame) -> None:
    d = _degradation(cases, ["unetr"]).to_numpy()
    rec = _q(records, "shift_degradation", model="unetr")
    assert rec["estimate"] == pytest.approx(d.mean())
    assert rec["p_value"] == pytest.approx(float(stats.ttest_1samp(d, 0.0).pvalue), rel=1e-10)
    assert rec["p_floor_rank"] == 1 / 32  # Wilcoxon signed-rank at 6 cases
    full = summarize(cases, ["dsc"], StatsSettings(n_resamples=300, skew_correction=True))  # Hall's option
    rood = next(r for r in full["robustness"] if r["kind"] == "rood" and r["model"] == "unetr" and r["shift"] == "mean")
    assert rec["estimate"] == pytest.approx(rood["degradation"])  # = the ROOD-MRI record when every case has all
    hall = _q(full["primary"], "shift_degradation", model="unetr")
    p, low, high = hall_reference(d)
    assert (hall["p_value"], hall["ci_low"], hall["ci_high"]) == (
        pytest.approx(p),
        pytest.approx(low),
        pytest.approx(high),
    )
    assert hall["method"] == "hall-t"


def test_family_differences_pair_each_cases_family_means(records: Records, cases: pd.DataFrame) -> None:
    a = _ok(cases, "unet")
    b = _ok(cases, "unetr")
    ida = a[(a["shift"] == "clean") & (a["split"] == "id")].set_index("case_id")["dsc"]
    idb = b[(b["shift"] == "clean") & (b["split"] == "id")].set_index("case_id")["dsc"]
    rec = _q(records, "id_score", scope="family_pair")
    assert (rec["family_a"], rec["family_b"]) == ("cnn", "vit")
    assert rec["estimate"] == pytest.approx((ida - idb).mean())
    assert rec["p_value"] == pytest.approx(float(stats.ttest_rel(ida, idb.loc[ida.index]).pvalue), rel=1e-10)
    deg = _q(records, "shift_degradation", scope="family_pair")
    d = _degradation(cases, ["unet"]) - _degradation(cases, ["unetr"])
    assert deg["estimate"] == pytest.approx(d.mean())
    drop = _q(records, "site_drop", scope="family_pair")
    assert drop["estimate"] == pytest.approx(
        _q(records, "site_drop", model="unet")["estimate"] - _q(records, "site_drop", model="unetr")["estimate"]
    )


def test_power_line_numbers(records: Records) -> None:
    for r in records:
        if r["kind"] != "question" or r["p_value"] is None:
            continue
        alpha = 0.05 / 7
        assert r["mdd"] == pytest.approx(minimum_detectable(r["std_error"], r["df"], alpha, 0.8))
        assert r["power_at_target"] == pytest.approx(power_t(0.05, r["std_error"], r["df"], alpha))
        if r["power_at_target"] < 0.8:
            assert r["n_needed"] > r["n_units"] if r["question"] != "site_drop" else r["n_needed"] >= 6
        else:
            assert r["n_needed"] is None
    family = next(r for r in records if r["kind"] == "family")
    weak = [r for r in records if r["kind"] == "question" and (r.get("power_at_target") or 1) < 0.8]
    assert family["n_undetectable"] == len(weak)


def test_declared_primary_questions() -> None:
    models = {"unet": "cnn", "resunet": "cnn", "unetr": "vit", "swin": "hybrid", "rater": "human"}
    cases = make_cases(models=models, n_id=10, ood_sites={"B": 8}, severities=(1, 3), seed=2)
    cases.loc[(cases["model"] == "rater") & (cases["shift"] != "clean"), ["status", "dsc"]] = ["unavailable", np.nan]
    default = primary_questions(cases, ["dsc"], StatsSettings(n_resamples=300))
    asked = {
        (r["question"], r.get("model") or (r.get("family_a"), r.get("family_b")))
        for r in default
        if r["kind"] == "question"
    }
    assert ("id_score", "rater") not in asked  # the human baseline is no model of the per-model questions
    assert ("id_score", ("vit", "human")) in asked
    human = next(r for r in default if r.get("family_b") == "human" and r.get("question") == "shift_degradation")
    assert human["p_value"] is None
    assert "no shifted conditions" in human["note"]
    spec = PrimarySpec.parse(
        {"models": ["unetr"], "quantities": ["site_drop"], "family_pairs": [["cnn", "vit"]], "correction": "bonferroni"}
    )
    declared = primary_questions(cases, ["dsc"], StatsSettings(n_resamples=300, primary=spec))
    questions = [r for r in declared if r["kind"] == "question"]
    assert [(r["question"], r.get("model"), r.get("family_a")) for r in questions] == [
        ("site_drop", "unetr", None),
        ("site_drop", None, "cnn"),
    ]
    for r in questions:  # Bonferroni: the adjusted interval is the 1 - alpha/2 interval
        assert r["adjusted_level"] == pytest.approx(1 - 0.05 / 2) or r["p_adjusted"] == 1.0
    with pytest.raises(RobustEvalError, match="quantities"):
        PrimarySpec.parse({"quantities": ["auc"]})
    with pytest.raises(RobustEvalError, match="unknown field"):
        PrimarySpec.parse({"metrics": "dsc"})


def test_repeated_subjects_are_the_units() -> None:
    cases = make_cases(models={"a": "cnn", "b": "vit"}, n_id=12, cases_per_subject=3, ood_sites={"B": 9}, seed=5)
    records = primary_questions(cases, ["dsc"], StatsSettings(n_resamples=300))
    deg = _q(records, "shift_degradation", model="a")
    assert (deg["n"], deg["n_units"], deg["df"], deg["clustered"]) == (12, 4, 3, True)
    assert "12 rows from 4 subjects" in deg["note"]
    score = _q(records, "id_score", model="a")
    assert (score["n_units"], score["clustered"], score["small_sample"]) == (4, True, True)
    naive = primary_questions(cases, ["dsc"], StatsSettings(n_resamples=300, cluster=None))
    assert _q(naive, "shift_degradation", model="a")["df"] == 11


def test_descriptive_metrics_have_no_direction(cases: pd.DataFrame) -> None:
    """Volumes describe a case: no better or worse, no degradation, no ranking, no primary question."""
    df = cases.assign(vol_pred_ml=cases["dsc"] * 12.0)
    settings = StatsSettings(
        n_resamples=300, headline_metric="vol_pred_ml", checks=({"ood_drop": {"metric": "vol_pred_ml", "max": 1}},)
    )
    out = summarize(df, ["dsc", "vol_pred_ml"], settings)
    cells = [c for c in out["cells"] if c["metric"] == "vol_pred_ml"]
    assert all(c["descriptive"] is True and c["higher_is_better"] is None for c in cells)
    assert math.isfinite(cells[0]["mean"])
    ivo = [r for r in out["id_vs_ood"] if r["metric"] == "vol_pred_ml"]
    assert ivo
    assert all(r["degradation"] is None and r["p_value"] is not None for r in ivo)  # a change, tested
    pairs = [r for r in out["model_vs_model"] if r["metric"] == "vol_pred_ml"]
    assert pairs
    assert all(r.get("better") is None for r in pairs)
    assert not [r for r in out["model_vs_model"] if r["kind"] == "significance"]
    assert [r["kind"] for r in out["ranks"]] == ["skipped"]
    robustness = [r for r in out["robustness"] if r["metric"] == "vol_pred_ml"]
    assert {r["kind"] for r in robustness} == {"skipped"}
    assert not [r for r in out["robustness"] if r["kind"] in ("pooled", "pooled_vs")]
    assert out["primary"][0]["kind"] == "skipped"
    assert [c["status"] for c in out["checks"]] == ["ERROR"]
    summary = out["data"][0]
    assert (summary["descriptive:vol_pred_ml"], summary["higher_is_better:vol_pred_ml"]) == (True, None)
    assert summary["higher_is_better:dsc"] is True
