"""Check kinds (PASS / WARN / FAIL / ERROR with their numbers) and the settings types."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from robusteval.errors import RobustEvalError
from robusteval.stats import CHECKS, CheckSpec, StatsSettings, summarize

pytestmark = pytest.mark.filterwarnings("error")


def _checks(table: pd.DataFrame, *specs: dict[str, Any], metrics: tuple[str, ...] = ("dsc",)) -> list[dict[str, Any]]:
    settings = StatsSettings(n_resamples=500, checks=tuple(CheckSpec.parse(s) for s in specs))
    return summarize(table, list(metrics), settings)["checks"]


def _by_model(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["model"]: r for r in records}


def test_registry_has_the_kinds() -> None:
    assert {"ood_drop", "min_mean", "max_mean", "max_degradation"} <= set(CHECKS.names())


def test_ood_drop(hand_table: pd.DataFrame) -> None:
    recs = _by_model(_checks(hand_table, {"ood_drop": {"metric": "dsc", "max": 0.05}}))
    a = recs["a"]
    # ID 0.8; OOD cases: site B 3 x 0.6, noise@1 4 x 0.7, noise@2 4 x 0.6 -> mean 7/11 (label noise excluded)
    assert a["value"] == pytest.approx(0.8 - 7 / 11)
    assert a["status"] == "FAIL"
    assert a["message"].startswith("OOD DSC drop 0.164 > 0.05 (95% CI ")
    assert a["ci_low"] <= a["value"] <= a["ci_high"]
    sites = _by_model(_checks(hand_table, {"ood_drop": {"max": 0.25, "scope": "sites"}}))
    assert sites["a"]["value"] == pytest.approx(0.2)
    assert sites["a"]["status"] in {"PASS", "WARN"}
    assert "(sites)" in sites["a"]["message"]


def test_min_mean_pass_warn_fail(hand_table: pd.DataFrame) -> None:
    recs = _by_model(_checks(hand_table, {"min_mean": {"min": 0.75, "warn": 0.85}}))
    assert recs["b"]["status"] == "PASS"  # 0.9
    assert recs["b"]["message"].startswith("ID clean DSC mean 0.9 >= 0.75")
    assert recs["a"]["status"] == "WARN"  # 0.8: above min, below the warning level
    assert "warning level 0.85" in recs["a"]["message"]
    assert recs["c"]["status"] == "FAIL"  # 0.7
    assert recs["c"]["message"].startswith("ID clean DSC mean 0.7 < 0.75")


def test_warn_when_the_interval_crosses_the_limit(hand_table: pd.DataFrame) -> None:
    # c's clean mean is 0.70 from four cases spread +-0.03: the interval reaches below 0.69.
    (rec,) = _checks(hand_table, {"min_mean": {"min": 0.69, "model": "c"}})
    assert rec["status"] == "WARN"
    assert "interval reaches" in rec["message"]


def test_max_degradation(hand_table: pd.DataFrame) -> None:
    recs = _by_model(_checks(hand_table, {"max_degradation": {"max": 0.1, "warn": 0.05}}))
    assert recs["a"]["value"] == pytest.approx(0.14)
    assert recs["a"]["status"] == "FAIL"
    assert recs["a"]["message"] == "ROOD-MRI DSC degradation (mean over shifts) 0.14 > 0.1"
    assert recs["c"]["value"] == pytest.approx(0.07)
    assert recs["c"]["status"] == "WARN"


def test_max_degradation_leaves_out_a_human_baseline_unless_named(hand_table: pd.DataFrame) -> None:
    """A second rater annotated the clean images only (its shifted rows are unavailable): it has no degradation,
    so the check does not list it as an ERROR; named explicitly, it says why it cannot be computed."""
    human = hand_table[(hand_table["model"] == "a") & hand_table["shift"].isin(["clean", "flip"])].copy()
    human["model"], human["family"] = "rater2", "human"
    table = pd.concat([hand_table, human], ignore_index=True)
    recs = _by_model(_checks(table, {"max_degradation": {"max": 0.1}}))
    assert set(recs) == {"a", "b", "c"}
    assert recs["a"]["value"] == pytest.approx(0.14)
    (named,) = _checks(table, {"max_degradation": {"max": 0.1, "model": "rater2"}})
    assert named["status"] == "ERROR"
    assert "no simulated shifts" in named["message"]


def test_max_mean_for_a_distance(hand_table: pd.DataFrame) -> None:
    (rec,) = _checks(hand_table, {"max_mean": {"metric": "hd95", "max": 5.0, "model": "b"}}, metrics=("dsc", "hd95"))
    assert rec["value"] == pytest.approx(2.0)
    assert rec["status"] == "PASS"


def test_errors_are_records_with_reasons(hand_table: pd.DataFrame) -> None:
    recs = _checks(
        hand_table,
        {"ood_drop": {"metric": "dsc"}},
        {"min_mean": {"metric": "nsd", "min": 0.5}},
        {"no_such_check": {}},
        {"min_mean": {"min": 0.5, "model": "zzz"}},
        {"min_mean": {"min": 0.5, "scope": "motion@9"}},
    )
    assert [r["status"] for r in recs] == ["ERROR"] * (4 + 3)
    reasons = " | ".join(r["message"] for r in recs)
    for text in ("needs 'max'", "'nsd' is not among", "unknown check 'no_such_check'", "'zzz'", "'motion@9'"):
        assert text in reasons


def test_check_spec_parsing() -> None:
    spec = CheckSpec.parse({"ood_drop": {"metric": "dsc", "max": 0.05}})
    assert spec == CheckSpec(kind="ood_drop", metric="dsc", max=0.05)
    assert CheckSpec.parse({"kind": "min_mean", "min": 1}) == CheckSpec(kind="min_mean", min=1.0)
    assert spec.describe() == "ood_drop(metric=dsc, max=0.05)"
    with pytest.raises(RobustEvalError, match="unknown field"):
        CheckSpec.parse({"ood_drop": {"maximum": 0.05}})
    with pytest.raises(RobustEvalError, match="one kind"):
        CheckSpec.parse({"ood_drop": {}, "min_mean": {}})


def test_settings_from_mapping_and_validation() -> None:
    settings = StatsSettings.from_mapping(
        {
            "n_resamples": 2000,
            "cluster": "subject",
            "checks": {"ood_drop": {"max": 0.05}},
            "mixed_metrics": None,
        }
    )
    assert settings.checks == (CheckSpec(kind="ood_drop", max=0.05),)
    assert settings.cluster == "subject"
    assert settings.to_dict()["checks"][0]["max"] == 0.05
    assert StatsSettings().n_resamples == 10_000
    assert StatsSettings().ci_method == "bootstrap-t"
    assert StatsSettings().cluster == "auto"
    assert StatsSettings().rood_alpha == pytest.approx(2 / 3)
    with pytest.raises(RobustEvalError, match="ci_method"):
        StatsSettings(ci_method="basic")  # type: ignore[arg-type]
    with pytest.raises(RobustEvalError, match="unknown statistics setting"):
        StatsSettings.from_mapping({"resamples": 10})
    with pytest.raises(RobustEvalError, match="confidence_level"):
        StatsSettings(confidence_level=95)
