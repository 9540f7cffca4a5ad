"""ROOD-MRI, mCE, effective robustness, worst group and label-noise sensitivity on hand-computed tables."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from robusteval.stats import StatsSettings, summarize
from robusteval.stats.robustness import corruption_errors, effective_robustness, rood_scores, worst_group

pytestmark = pytest.mark.filterwarnings("error")


def test_rood_scores_by_hand() -> None:
    # M_clean 0.8; severities 1, 2 with 0.7, 0.6; alpha 2/3: weights 2/3, 4/9.
    overall, degradation = rood_scores(0.8, [1, 2], [0.7, 0.6], alpha=2 / 3)
    assert overall == pytest.approx((0.8 + 2 / 3 * 0.7 + 4 / 9 * 0.6) / (1 + 2 / 3 + 4 / 9))
    assert overall == pytest.approx(207 / 285)
    assert degradation == pytest.approx(63 / 450)  # (2/3 * 0.1 + 4/9 * 0.2) / (10/9) = 0.14


def test_rood_degradation_sign_for_lower_is_better() -> None:
    # HD95 rising from 5 to 7 and 9 mm is worse: degradation must be positive.
    overall, degradation = rood_scores(5.0, [1, 2], [7.0, 9.0], alpha=0.5, higher_is_better=False)
    assert degradation == pytest.approx((0.5 * 2 + 0.25 * 4) / 0.75)
    assert overall == pytest.approx((5 + 0.5 * 7 + 0.25 * 9) / 1.75)


def test_corruption_errors_by_hand() -> None:
    # Model DSC 0.8, 0.7, 0.6 -> errors 0.2, 0.3, 0.4; reference 0.9, 0.85, 0.7 -> errors 0.1, 0.15, 0.3
    ce, rel = corruption_errors(0.8, [0.7, 0.6], 0.9, [0.85, 0.7])
    assert ce == pytest.approx(0.7 / 0.45)
    assert rel == pytest.approx(0.3 / 0.25)
    ce_lower, _ = corruption_errors(2.0, [3.0], 1.0, [6.0], higher_is_better=False)
    assert ce_lower == pytest.approx(0.5)


def test_effective_robustness_by_hand() -> None:
    er, slope, intercept = effective_robustness({"a": 0.8, "b": 0.9, "c": 0.7}, {"a": 0.6, "b": 0.75, "c": 0.5})
    assert slope == pytest.approx(1.25)
    assert intercept == pytest.approx(0.6166666666666667 - 1.0)
    assert er == pytest.approx({"a": -1 / 60, "b": 1 / 120, "c": 1 / 120})
    with pytest.raises(ValueError, match="3 or more"):
        effective_robustness({"a": 0.8, "b": 0.9}, {"a": 0.6, "b": 0.7})


def test_worst_group() -> None:
    assert worst_group({"site=A": 0.8, "site=B": 0.6, "site=C": math.nan}) == ("site=B", 0.6)
    assert worst_group({"site=A": 3.0, "site=B": 5.0}, higher_is_better=False) == ("site=B", 5.0)


@pytest.fixture
def hand_summary(hand_table: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    settings = StatsSettings(n_resamples=500, reference_model="b")
    return summarize(hand_table, ["dsc", "hd95"], settings)


def _one(records: list[dict[str, Any]], **match: object) -> dict[str, Any]:
    found = [r for r in records if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def test_rood_records_from_the_hand_table(hand_summary: dict[str, list[dict[str, Any]]]) -> None:
    rob = hand_summary["robustness"]
    noise = _one(rob, kind="rood", model="a", metric="dsc", shift="noise")
    assert noise["overall"] == pytest.approx(207 / 285)
    assert noise["degradation"] == pytest.approx(0.14)
    mean = _one(rob, kind="rood", model="a", metric="dsc", shift="mean")
    assert mean["degradation"] == pytest.approx(0.14)  # one simulated shift (label noise is excluded)
    # hd95 = 20 (1 - dsc): lower is better, so the degradation keeps its positive sign: 20 * 0.14.
    assert _one(rob, kind="rood", model="a", metric="hd95", shift="noise")["degradation"] == pytest.approx(2.8)


def test_mce_records_from_the_hand_table(hand_summary: dict[str, list[dict[str, Any]]]) -> None:
    rob = hand_summary["robustness"]
    a = _one(rob, kind="mce", model="a", metric="dsc")
    assert a["mce"] == pytest.approx(0.7 / 0.45)
    assert a["relative_mce"] == pytest.approx(1.2)
    assert _one(rob, kind="mce", model="b", metric="dsc")["mce"] == pytest.approx(1.0)
    # c: errors 0.3 / 0.35, 0.4 over the reference's 0.15, 0.3
    assert _one(rob, kind="ce", model="c", metric="dsc", shift="noise")["ce"] == pytest.approx(0.75 / 0.45)


def test_worst_group_records_use_wilds_keys(hand_summary: dict[str, list[dict[str, Any]]]) -> None:
    rob = hand_summary["robustness"]
    site = _one(rob, kind="worst_group", model="a", metric="dsc", grouping="site")
    assert site["dsc_group:site=A"] == pytest.approx(0.8)
    assert site["dsc_group:site=B"] == pytest.approx(0.6)
    assert site["dsc_wg"] == pytest.approx(0.6)
    assert site["worst_group"] == "site=B"
    assert site["dsc_avg"] == pytest.approx((4 * 0.8 + 3 * 0.6) / 7)
    shift = _one(rob, kind="worst_group", model="b", metric="dsc", grouping="shift")
    assert shift["dsc_group:shift=noise@1"] == pytest.approx(0.85)
    assert shift["worst_group"] == "shift=noise@2"
    assert "dsc_group:shift=flip@1" not in shift  # label noise is not an input shift
    hd = _one(rob, kind="worst_group", model="a", metric="hd95", grouping="site")
    assert hd["worst_group"] == "site=B"  # highest distance is worst
    assert hd["hd95_wg"] == pytest.approx(8.0)


def test_effective_robustness_records(hand_summary: dict[str, list[dict[str, Any]]]) -> None:
    rob = hand_summary["robustness"]
    a = _one(rob, kind="effective_robustness", model="a", metric="dsc", target="ood_sites")
    assert a["effective_robustness"] == pytest.approx(-1 / 60)
    assert a["slope"] == pytest.approx(1.25)
    # hd95 is lower-is-better: a residual above the line is worse, so the sign flips.
    hd = _one(rob, kind="effective_robustness", model="a", metric="hd95", target="ood_sites")
    assert hd["effective_robustness"] == pytest.approx(-20 / 60)


def test_label_noise_sensitivity(hand_summary: dict[str, list[dict[str, Any]]]) -> None:
    rob = hand_summary["robustness"]
    a = _one(rob, kind="label_noise_mean", model="a", metric="dsc", noise="flip@1")
    assert a["move"] == pytest.approx(-0.05)
    assert a["n"] == 4
    ranking = _one(rob, kind="label_noise_ranking", metric="dsc", noise="flip@1")
    assert ranking["kendall_tau"] == pytest.approx(1.0)  # b > a > c under both references
    assert ranking["rank_noisy_reference:b"] == 1.0


def test_label_noise_moves_the_id_vs_ood_difference(hand_table: pd.DataFrame) -> None:
    """A composed condition noise+flip (shifted image, noisy reference) gives the difference's move."""
    extra = hand_table.loc[hand_table["shift"] == "noise"].copy()
    extra["shift"] = "noise+flip"
    extra["shift_family"] = "label_noise"
    extra["dsc"] = extra["dsc"] - 0.1
    table = pd.concat([hand_table, extra], ignore_index=True)
    out = summarize(table, ["dsc"], StatsSettings(n_resamples=500))
    rec = _one(out["robustness"], kind="label_noise_diff", model="a", noise="flip@1", condition="noise@1")
    # clean reference: 0.7 - 0.8 = -0.1; noisy reference: (0.7 - 0.1) - 0.75 = -0.15
    assert rec["diff_clean_reference"] == pytest.approx(-0.1)
    assert rec["diff_noisy_reference"] == pytest.approx(-0.15)
    assert rec["move"] == pytest.approx(-0.05)


def test_mce_without_reference_model_says_why(hand_table: pd.DataFrame) -> None:
    out = summarize(hand_table, ["dsc"], StatsSettings(n_resamples=500))
    rec = _one(out["robustness"], kind="mce", metric="dsc")
    assert "reference_model" in rec["note"]
