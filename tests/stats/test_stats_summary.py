"""``summarize`` end to end: output contract, bookkeeping, ID vs OOD and model vs model against scipy."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from robusteval.errors import RobustEvalError
from robusteval.stats import OUTPUT_KEYS, CheckSpec, StatsSettings, summarize
from robusteval.stats.bootstrap import bootstrap_t_intervals
from robusteval.stats.synthetic import make_cases

pytestmark = pytest.mark.filterwarnings("error")

Result = dict[str, list[dict[str, Any]]]
CELL_KEYS = {"model", "shift", "severity", "split", "metric", "n", "mean", "ci_low", "ci_high"}
CELL_KEYS |= {"median", "median_ci_low", "median_ci_high", "method", "note"}


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    df = make_cases(n_id=12, label_noise=("flip",), extra_metrics=("custom_score",), hd95_nan_rate=0.1, seed=3)
    failed = df.index[(df["model"] == "unet") & (df["shift"] == "motion") & (df["severity"] == 2)][:3]
    for column, value in (("status", "failed"), ("error", "oom")):
        df.loc[failed, column] = value
    for column in ("dsc", "hd95", "custom_score"):
        df.loc[failed, column] = np.nan
    return df


@pytest.fixture(scope="module")
def result(cases: pd.DataFrame) -> Result:
    settings = StatsSettings(n_resamples=400, reference_model="unet", seed=5)
    return summarize(cases, ["dsc", "hd95", "custom_score"], settings, worst_values={"hd95": 99.0})


def _clean_ok(cases: pd.DataFrame) -> pd.DataFrame:
    return cases.loc[cases["status"] == "ok"]


def test_output_contract(result: Result) -> None:
    assert set(OUTPUT_KEYS) <= set(result)
    assert {"settings", "data"} <= set(result)
    json.dumps(result, allow_nan=False)  # a NaN or infinity would raise: they must be None
    for cell in result["cells"]:
        assert set(cell) >= CELL_KEYS
    for key in ("id_vs_ood", "model_vs_model"):
        for rec in result[key]:
            assert "p_value" in rec
            assert "p_adjusted" in rec
    settings = result["settings"][0]
    assert settings["seed"] == 5
    assert settings["n_resamples"] == 400
    assert settings["worst_values"] == {"hd95": 99.0}
    assert "scipy" in settings["versions"]


def test_failed_rows_and_replacements_are_counted(result: Result, cases: pd.DataFrame) -> None:
    cell = next(
        c
        for c in result["cells"]
        if c["model"] == "unet" and c["condition"] == "motion@2" and c["metric"] == "dsc" and c["site"] is None
    )
    assert cell["n_failed"] == 3
    assert cell["n"] == 12 - 3
    assert "3 failed" in cell["note"]
    summary = result["data"][0]
    assert summary["n_failed_rows"] == 3
    ok = _clean_ok(cases)
    assert summary["n_replaced:hd95"] == int(ok["hd95"].isna().sum()) > 0
    assert (
        sum(c["n_replaced"] for c in result["cells"] if c["metric"] == "hd95" and c["site"] is None)
        == (summary["n_replaced:hd95"])
    )
    assert any(r["kind"] == "failed" and r["n"] == 3 for r in result["data"])


def test_unregistered_metric_is_assumed_higher_is_better_with_a_note(result: Result) -> None:
    cell = next(c for c in result["cells"] if c["metric"] == "custom_score")
    assert cell["higher_is_better"] is True
    assert "not in the metric registry" in cell["note"]
    assert any("custom_score" in r["note"] for r in result["data"] if r["kind"] == "note")
    hd = next(c for c in result["cells"] if c["metric"] == "hd95")
    assert hd["higher_is_better"] is False


def test_cell_values(result: Result, cases: pd.DataFrame) -> None:
    ok = _clean_ok(cases)
    values = ok.loc[(ok["model"] == "resunet") & (ok["shift"] == "bias") & (ok["severity"] == 3), "dsc"]
    cell = next(
        c for c in result["cells"] if c["model"] == "resunet" and c["condition"] == "bias@3" and c["metric"] == "dsc"
    )
    assert cell["mean"] == pytest.approx(values.mean())
    assert cell["median"] == pytest.approx(values.median())
    assert cell["ci_low"] < cell["mean"] < cell["ci_high"]
    assert cell["split"] == "ood"
    ci = bootstrap_t_intervals([values.to_numpy()], n_resamples=400, seed=5)[0]  # the default: bootstrap-t
    assert (cell["ci_low"], cell["ci_high"]) == (pytest.approx(ci.low, rel=1e-12), pytest.approx(ci.high, rel=1e-12))
    assert cell["method"] == "bootstrap-t"
    assert (cell["small_sample"], cell["clustered"]) == (False, False)
    per_site = [c for c in result["cells"] if c["condition"] == "clean" and c["split"] == "ood" and c["site"]]
    assert {c["site"] for c in per_site} == {"B", "C"}


def test_paired_id_vs_ood_against_scipy(result: Result, cases: pd.DataFrame) -> None:
    ok = _clean_ok(cases)
    model = "unetr"
    clean = ok.loc[(ok["model"] == model) & (ok["split"] == "id") & (ok["shift"] == "clean")].set_index("case_id")
    shifted = ok.loc[(ok["model"] == model) & (ok["shift"] == "motion") & (ok["severity"] == 4)].set_index("case_id")
    d = (shifted["dsc"] - clean["dsc"]).dropna().to_numpy()
    rec = next(
        r
        for r in result["id_vs_ood"]
        if r["kind"] == "paired" and r["model"] == model and r["condition"] == "motion@4" and r["metric"] == "dsc"
    )
    assert rec["diff"] == pytest.approx(d.mean())
    assert rec["degradation"] == pytest.approx(-d.mean())
    test = stats.ttest_rel(shifted.loc[clean.index, "dsc"], clean["dsc"])  # every case has both
    assert rec["p_value"] == pytest.approx(float(test.pvalue), rel=1e-10)
    ci = test.confidence_interval(0.95)
    assert (rec["ci_low"], rec["ci_high"]) == (pytest.approx(ci.low, rel=1e-10), pytest.approx(ci.high, rel=1e-10))
    assert (rec["test"], rec["exploratory"], rec["df"]) == ("paired t", True, len(d) - 1)
    family = [r for r in result["id_vs_ood"] if r["test_family"] == "id_vs_ood:dsc"]
    p = np.array([r["p_value"] for r in family])
    adjusted = multipletests(p, method="holm")[1]
    np.testing.assert_allclose([r["p_adjusted"] for r in family], adjusted)
    assert all(r["family_size"] == len(family) for r in family)
    assert all(r["kind"] != "paired" or r["shift_family"] != "label_noise" for r in result["id_vs_ood"])


def test_site_id_vs_ood_against_scipy(result: Result, cases: pd.DataFrame) -> None:
    ok = _clean_ok(cases)
    m = ok.loc[(ok["model"] == "lst") & (ok["shift"] == "clean")]
    x = m.loc[m["split"] == "id", "dsc"].to_numpy()
    y = m.loc[m["site"] == "C", "dsc"].to_numpy()
    rec = next(
        r
        for r in result["id_vs_ood"]
        if r["kind"] == "site" and r["model"] == "lst" and r["site"] == "C" and r["metric"] == "dsc"
    )
    assert rec["diff"] == pytest.approx(y.mean() - x.mean())
    welch = stats.ttest_ind(y, x, equal_var=False)
    assert rec["p_value"] == pytest.approx(float(welch.pvalue), rel=1e-10)
    assert rec["df"] == pytest.approx(float(welch.df))
    ci = welch.confidence_interval(0.95)
    assert (rec["ci_low"], rec["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    pooled = [r for r in result["id_vs_ood"] if r["kind"] == "site" and r["model"] == "lst" and r["site"] is None]
    assert len(pooled) == 3  # one per metric
    assert pooled[0]["n_ood"] == 20


def test_model_vs_model(result: Result, cases: pd.DataFrame) -> None:
    ok = _clean_ok(cases)
    sub = ok.loc[(ok["split"] == "id") & (ok["shift"] == "clean")].pivot(index="case_id", columns="model", values="dsc")
    pair = [
        r
        for r in result["model_vs_model"]
        if r["kind"] == "pairwise" and r["condition"] == "clean" and r["split"] == "id" and r["metric"] == "dsc"
    ]
    assert len(pair) == 15  # 6 models
    rec = next(r for r in pair if (r["model_a"], r["model_b"]) == ("lst", "resunet"))
    d = (sub["lst"] - sub["resunet"]).to_numpy()
    assert rec["diff"] == pytest.approx(d.mean())
    assert rec["p_value"] == pytest.approx(float(stats.ttest_1samp(d, 0.0).pvalue), rel=1e-10)
    np.testing.assert_allclose(
        [r["p_adjusted"] for r in pair], multipletests([r["p_value"] for r in pair], method="holm")[1]
    )
    sig = [
        r
        for r in result["model_vs_model"]
        if r["kind"] == "significance" and r["condition"] == "clean" and r["split"] == "id"
    ]
    assert len(sig) == 30  # ordered pairs
    forward = next(r for r in sig if (r["model"], r["other"]) == ("resunet", "lst"))
    assert forward["p_value"] == pytest.approx(float(stats.wilcoxon(-d, alternative="greater").pvalue), rel=1e-12)
    assert all(r["metric"] == "dsc" for r in sig)


def test_rank_stability(result: Result) -> None:
    ranks = [r for r in result["ranks"] if r["kind"] == "rank" and r["condition"] == "clean" and r["split"] == "id"]
    assert len(ranks) == 6
    assert sorted(r["rank"] for r in ranks) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    for r in ranks:
        assert sum(r[f"p_rank_{k}"] for k in range(1, 7)) == pytest.approx(1.0)
        assert r["rank_ci_low"] <= r["rank"] <= r["rank_ci_high"]
    best = min(ranks, key=lambda r: r["rank"])
    assert best["mean"] == max(r["mean"] for r in ranks)
    tau = next(r for r in result["ranks"] if r["kind"] == "kendall_tau" and r["condition"] == "clean")
    assert -1.0 <= tau["tau_ci_low"] <= tau["tau_median"] <= tau["tau_ci_high"] <= 1.0


def test_cluster_setting_is_used(cases: pd.DataFrame) -> None:
    """``cluster: auto`` (the default) resamples and tests subjects where one has several cases; ``None`` does
    not (and says so)."""
    df = make_cases(n_id=12, cases_per_subject=3, ood_sites={"B": 9}, seed=8)
    naive = summarize(df, ["dsc"], StatsSettings(n_resamples=400, cluster=None))
    auto = summarize(df, ["dsc"], StatsSettings(n_resamples=400))
    subject = summarize(df, ["dsc"], StatsSettings(n_resamples=400, cluster="subject"))

    def pick(out: Result, key: str = "cells") -> dict[str, Any]:
        return next(c for c in out[key] if c["model"] == "unet" and c["condition"] == "motion@3")

    assert pick(auto)["n_clusters"] == 4
    assert pick(auto)["cluster"] == "auto"
    assert pick(auto)["clustered"] is True
    assert "12 rows from 4 subjects" in pick(auto)["note"]
    assert (pick(subject)["ci_low"], pick(subject)["ci_high"]) == (pick(auto)["ci_low"], pick(auto)["ci_high"])
    assert pick(naive)["n_clusters"] == 12
    assert pick(naive)["clustered"] is False
    assert math.isfinite(pick(auto)["ci_low"])
    assert any("cluster is null" in r["note"] for r in naive["data"] if r["kind"] == "note")
    paired = pick(auto, "id_vs_ood")
    assert (paired["n_units"], paired["df"], paired["clustered"]) == (4, 3, True)
    ok = df[(df["status"] == "ok") & (df["model"] == "unet")]
    d = (
        ok[(ok["shift"] == "motion") & (ok["severity"] == 3)].set_index("case_id")["dsc"]
        - ok[(ok["shift"] == "clean") & (ok["split"] == "id")].set_index("case_id")["dsc"]
    ).dropna()
    subjects = ok.drop_duplicates("case_id").set_index("case_id").loc[d.index, "subject_id"]
    per_subject = d.groupby(subjects.to_numpy()).mean()  # equal cluster sizes: CR1 = t test on cluster means
    assert paired["p_value"] == pytest.approx(float(stats.ttest_1samp(per_subject, 0.0).pvalue), rel=1e-10)


def test_percentile_and_fdr_settings(cases: pd.DataFrame) -> None:
    settings = StatsSettings(n_resamples=300, ci_method="percentile", multiple_testing="fdr_bh")
    out = summarize(cases, ["dsc"], settings)
    assert {c["method"] for c in out["cells"]} <= {"percentile", "degenerate", "range", "none"}
    family = [r for r in out["id_vs_ood"] if r["test_family"] == "id_vs_ood:dsc"]
    np.testing.assert_allclose(
        [r["p_adjusted"] for r in family], multipletests([r["p_value"] for r in family], method="fdr_bh")[1]
    )
    assert family[0]["correction"] == "fdr_bh"


def test_missing_columns_are_reported(cases: pd.DataFrame) -> None:
    with pytest.raises(RobustEvalError, match="subject_id"):
        summarize(cases.drop(columns=["subject_id"]), ["dsc"], StatsSettings(n_resamples=300))
    with pytest.raises(RobustEvalError, match="nsd"):
        summarize(cases, ["nsd"], StatsSettings(n_resamples=300))


def test_nan_without_worst_value_is_dropped_and_counted(cases: pd.DataFrame) -> None:
    out = summarize(cases, ["hd95"], StatsSettings(n_resamples=300))
    missing = sum(c["n_missing"] for c in out["cells"] if c["site"] is None)
    assert missing == int(_clean_ok(cases)["hd95"].isna().sum()) > 0
    assert any("without a declared worst value" in c["note"] for c in out["cells"])


def test_everything_failed_gives_explained_empty_cells(cases: pd.DataFrame) -> None:
    failed = cases.assign(status="failed", dsc=np.nan)
    settings = StatsSettings(n_resamples=300, checks=(CheckSpec(kind="ood_drop", max=0.05),))
    out = summarize(failed, ["dsc"], settings)
    json.dumps(out, allow_nan=False)
    assert out["cells"]
    assert all(c["n"] == 0 and c["mean"] is None and "failed" in c["note"] for c in out["cells"])
    assert out["data"][0]["n_failed_rows"] == len(cases)
    assert [c["status"] for c in out["checks"]] == ["ERROR"]
    assert out["mixed_effects"][0]["kind"] == "skipped"


def test_single_model_skips_what_needs_several(cases: pd.DataFrame) -> None:
    out = summarize(cases.loc[cases["model"] == "unet"], ["dsc"], StatsSettings(n_resamples=300))
    assert out["model_vs_model"] == []
    assert {r["kind"] for r in out["ranks"]} == {"skipped"}
    assert out["mixed_effects"][0]["kind"] == "skipped"
    er = [r for r in out["robustness"] if r["kind"] == "effective_robustness"]
    assert er
    assert all(r["model"] is None and "3 or more models" in r["note"] for r in er)
    assert out["id_vs_ood"]


def test_unavailable_rows_are_counted_apart_never_as_failed(cases: pd.DataFrame) -> None:
    """No prediction for a condition (an external tool's missing file, the human baseline under a shift) is
    left out of the statistics without being a failure: no ``failed`` count, note or empty failed cell."""
    df = cases.copy()
    some = df.index[(df["model"] == "unet") & (df["shift"] == "motion") & (df["severity"] == 1)][:4]
    every = df.index[(df["model"] == "unet") & (df["shift"] == "bias") & (df["severity"] == 3)]
    df.loc[some.union(every), ["status", "error", "dsc"]] = ["unavailable", "no prediction", np.nan]
    out = summarize(df, ["dsc"], StatsSettings(n_resamples=300))
    summary = out["data"][0]
    assert summary["n_failed_rows"] == 3  # the fixture's failed rows only
    assert summary["n_unavailable_rows"] == len(some) + len(every)
    assert summary["n_ok_rows"] + summary["n_failed_rows"] + summary["n_unavailable_rows"] == len(df)
    assert summary["n_ok_rows"] == int((df["status"] == "ok").sum())
    assert not any("treated as failed" in r["note"] for r in out["data"] if r["kind"] == "note")
    unavailable = {(r["shift"], r["severity"]): r["n"] for r in out["data"] if r["kind"] == "unavailable"}
    assert unavailable == {("motion", 1.0): len(some), ("bias", 3.0): len(every)}
    cell = next(c for c in out["cells"] if c["model"] == "unet" and c["condition"] == "motion@1" and c["site"] is None)
    assert (cell["n"], cell["n_failed"], cell["n_unavailable"]) == (12 - len(some), 0, len(some))
    ok = df[(df["model"] == "unet") & (df["shift"] == "motion") & (df["severity"] == 1) & (df["status"] == "ok")]
    assert cell["mean"] == pytest.approx(ok["dsc"].mean())  # the others' values alone: no worst value stands in
    assert "failed" not in cell["note"]
    assert not [c for c in out["cells"] if c["model"] == "unet" and c["condition"] == "bias@3"]
