"""Simulation suite of the statistics (``slow``): coverage, type-I error, family-wise error and power, through
the public API (``robusteval.stats``), with fixed seeds. The figures are in docs/statistics.md ("Simulation
figures"); ``python -m tests.stats.test_stats_simulation`` prints them.

Replicates per scenario are sized for well under a minute in all on two cores; each assertion allows for
Monte Carlo error (``_mc``: two standard errors; a coverage from 4000 data sets has one of 0.35 points, a rate
from 300 of about 1.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from robusteval.stats import (
    CHECKS,
    CheckSpec,
    StatsSettings,
    bootstrap_mean_differences,
    bootstrap_t_intervals,
    paired_t,
    power_t,
    primary_questions,
)
from robusteval.stats.checks import CheckContext
from robusteval.stats.frame import prepare

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("error")]

Draw = Callable[[np.random.Generator, int, int], np.ndarray]


def _beta(rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
    return rng.beta(8, 2, (reps, n))


def _beta_failures(rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
    x = rng.beta(8, 2, (reps, n))
    x[rng.random((reps, n)) < 0.1] = 0.0  # 10% failures (DSC 0)
    return x


def _lognormal(rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
    return rng.lognormal(0.0, 0.5, (reps, n))


DISTRIBUTIONS: dict[str, tuple[Draw, float]] = {
    "beta(8,2)": (_beta, 0.8),
    "beta(8,2) + 10% zeros": (_beta_failures, 0.72),
    "lognormal(0,0.5)": (_lognormal, math.exp(0.125)),
}


def cell_coverage(name: str, n: int, reps: int = 4000, seed: int = 11) -> float:
    """Coverage of the cells' 95% interval of the mean (bootstrap-t, 2000 resamples)."""
    draw, truth = DISTRIBUTIONS[name]
    data = draw(np.random.default_rng(seed), reps, n)
    intervals = bootstrap_t_intervals(list(data), n_resamples=2000, seed=1)
    return float(np.mean([i.low <= truth <= i.high for i in intervals]))


def clustered_coverage(clustered: bool, subjects: int = 10, per_subject: int = 3, reps: int = 1000) -> float:
    """Coverage of a cell's interval when every subject has ``per_subject`` cases (subject SD 0.08, case 0.03)."""
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(subjects), per_subject)
    data = [0.75 + np.repeat(rng.normal(0, 0.08, subjects), per_subject) + rng.normal(0, 0.03, len(labels))
            for _ in range(reps)]  # fmt: skip
    intervals = bootstrap_t_intervals(data, clusters=[labels] * reps if clustered else None, n_resamples=1000)
    return float(np.mean([i.low <= 0.75 <= i.high for i in intervals]))


def paired_rates(n: int, reps: int = 4000) -> tuple[float, float]:
    """(type-I error of the paired t under skewed null differences, coverage of its interval of a mean drop
    that varies by subject): differences ``0.02 (Gamma(2) - 2)``; drops ``clean * u`` with clean ~ Beta(8, 2)
    and u ~ Beta(1, 9), true mean 0.08."""
    rng = np.random.default_rng(n)
    null = 0.02 * (rng.gamma(2.0, 1.0, (reps, n)) - 2.0)
    reject = np.mean([paired_t(d).p_value < 0.05 for d in null])
    drops = rng.beta(8, 2, (reps, n)) * rng.beta(1, 9, (reps, n))
    cover = np.mean([(lambda c: c.ci_low <= 0.08 <= c.ci_high)(paired_t(d)) for d in drops])
    return float(reject), float(cover)


def _table(
    rng: np.random.Generator,
    *,
    n_id: int = 10,
    n_ood: int = 10,
    drop: dict[str, float] | None = None,
    hurt_sd: float = 0.04,
    site_drop: float = 0.0,
    conditions: tuple[tuple[str, int], ...] = (("s1", 1), ("s1", 3), ("s2", 2)),
    subject_sd: float = 0.05,
) -> pd.DataFrame:
    """Two models (cnn ``a``, vit ``b``); ID cases under the shifted ``conditions`` (shift, severity); OOD-site
    cases. Each case's shifted value is its clean value minus the model's drop plus a per-case hurt (SD
    ``hurt_sd``): subjects differ in how much a shift hurts them."""
    drop = drop or {"a": 0.0, "b": 0.0}
    rows: list[tuple[object, ...]] = []
    u_id, u_ood = rng.normal(0, subject_sd, n_id), rng.normal(0, subject_sd, n_ood)
    for model, family in (("a", "cnn"), ("b", "vit")):
        clean = 0.75 + u_id + rng.normal(0, 0.03, n_id)
        hurt = drop[model] + rng.normal(0, hurt_sd, n_id)
        for i in range(n_id):
            rows.append((model, family, f"A{i}", f"A-s{i}", "A", "id", "clean", "clean", 0, clean[i]))
            for shift, sev in conditions:
                value = clean[i] - hurt[i] + rng.normal(0, 0.01)
                rows.append((model, family, f"A{i}", f"A-s{i}", "A", "ood", shift, "artifact", sev, value))
        site = 0.75 - site_drop + u_ood + rng.normal(0, 0.03, n_ood)
        for i in range(n_ood):
            rows.append((model, family, f"B{i}", f"B-s{i}", "B", "ood", "clean", "site", 0, site[i]))
    columns = ["model", "family", "case_id", "subject_id", "site", "split", "shift", "shift_family", "severity", "dsc"]
    df = pd.DataFrame(rows, columns=columns)
    return df.assign(status="ok", scanner="x", seed=0, error="")


FAST = StatsSettings(n_resamples=200)


CONDITIONS_12 = tuple((f"s{i}", sev) for i in range(6) for sev in (1, 3))
HURT: dict[str, Any] = {"hurt_sd": 0.10, "subject_sd": 0.02, "conditions": CONDITIONS_12}


def ood_drop_coverage(scope: str, reps: int = 300) -> float:
    """Coverage of the ``ood_drop`` check's interval (scope ``all`` or ``shifts``) when subjects differ in how
    much the shifts hurt them (``_table``: 12 shifted conditions, drop 0.05, hurt SD 0.10 against a subject SD
    of 0.02, site drop 0.04)."""
    rng = np.random.default_rng(3)
    spec = CheckSpec(kind="ood_drop", max=1.0, scope=scope, model="a")
    truth = 0.05 if scope == "shifts" else (120 * 0.05 + 10 * 0.04) / 130  # 120 shifted rows, 10 site rows
    cover = 0
    for _ in range(reps):
        df = _table(rng, drop={"a": 0.05, "b": 0.05}, site_drop=0.04, **HURT)
        prep = prepare(df, ["dsc"], cluster=FAST.cluster)
        (rec,) = CHECKS.get("ood_drop")(spec, CheckContext(prep, FAST, [], []))
        cover += rec["ci_low"] <= truth <= rec["ci_high"]
    return cover / reps


def primary_rates(n_id: int, drop_a: float, reps: int = 300) -> tuple[float, float, float]:
    """(family-wise error of the primary family, rejection rate of model a's shift degradation, the analytic
    power of that test at alpha / m): both models identical, no site drop; model a's shifts cost ``drop_a``."""
    rng = np.random.default_rng(100 + n_id)
    any_false, hit = 0, 0
    m = 7
    for _ in range(reps):
        df = _table(rng, n_id=n_id, drop={"a": drop_a, "b": 0.0})
        recs = [r for r in primary_questions(df, ["dsc"], FAST) if r["kind"] == "question"]
        significant = {(r["question"], r.get("model") or r.get("family_a")): r["significant"] for r in recs}
        truly_null = [k for k in significant if drop_a == 0 or k[0] != "shift_degradation"]
        any_false += any(significant[k] for k in truly_null)
        hit += bool(significant[("shift_degradation", "a")])
    se = math.sqrt((0.04**2 + 0.01**2 / 3) / n_id)  # SD of a case's degradation: hurt + mean of 3 noises
    return any_false / reps, hit / reps, power_t(drop_a, se, n_id - 1, 0.05 / m)


def _mc(p: float, reps: int) -> float:
    """Two Monte Carlo standard errors of a rate near ``p`` estimated from ``reps`` replicates."""
    return 2.0 * math.sqrt(p * (1.0 - p) / reps)


@pytest.mark.parametrize("name", ["beta(8,2)", "lognormal(0,0.5)"])
@pytest.mark.parametrize("n", [10, 20])
def test_cell_intervals_cover(name: str, n: int) -> None:
    """The target 93-97% at n = 10 and 20, with Monte Carlo error."""
    assert 0.93 - _mc(0.95, 4000) <= cell_coverage(name, n) <= 0.97 + _mc(0.95, 4000)


def test_cell_intervals_at_small_n_and_with_failures() -> None:
    """n = 6 is flagged small-sample; with 10% failures a sample without any (35% of them at n = 10) cannot
    cover the failure-inflated mean, so coverage stays below nominal (docs/statistics.md says how much)."""
    assert cell_coverage("beta(8,2)", 6) >= 0.92
    assert cell_coverage("lognormal(0,0.5)", 6) >= 0.90
    assert 0.85 <= cell_coverage("beta(8,2) + 10% zeros", 10) < 0.93
    assert 0.87 <= cell_coverage("beta(8,2) + 10% zeros", 20) <= 0.95


def test_repeated_subjects_need_clustering() -> None:
    assert 0.93 <= clustered_coverage(True) <= 0.97
    assert clustered_coverage(False) < 0.85  # cases treated as independent: the interval is too narrow


@pytest.mark.parametrize("n", [6, 10, 20])
def test_paired_t_type_one_error_and_coverage(n: int) -> None:
    """Strongly skewed differences (skewness 1.4): the t test is a little liberal at small n (docs)."""
    reject, cover = paired_rates(n)
    assert 0.03 <= reject <= (0.10 if n < 10 else 0.075)
    assert (0.88 if n < 10 else 0.90) <= cover <= 0.97


def unpaired_drop_coverage(reps: int = 300) -> float:
    """The previous ``ood_drop`` interval (scope ``shifts``): the pooled shifted rows bootstrapped as
    independent and unpaired from the ID rows, on the same data as :func:`ood_drop_coverage`."""
    rng = np.random.default_rng(3)
    xs, ys = [], []
    for _ in range(reps):
        df = _table(rng, drop={"a": 0.05, "b": 0.05}, site_drop=0.04, **HURT)
        a = df[df["model"] == "a"]
        xs.append(a.loc[(a["shift"] == "clean") & (a["split"] == "id"), "dsc"].to_numpy())
        ys.append(a.loc[a["shift"] != "clean", "dsc"].to_numpy())
    intervals = bootstrap_mean_differences(xs, ys, n_resamples=1000, small_sample=True)
    return float(np.mean([-i.high <= 0.05 <= -i.low for i in intervals]))


@pytest.mark.parametrize("scope", ["all", "shifts"])
def test_ood_drop_interval_covers_with_subject_varying_hurt(scope: str) -> None:
    assert 0.95 - _mc(0.95, 300) - 0.01 <= ood_drop_coverage(scope) <= 0.95 + _mc(0.95, 300) + 0.01


def test_unpaired_pooled_rows_under_cover() -> None:
    assert unpaired_drop_coverage() < 0.85


def test_primary_family_wise_error_and_power() -> None:
    fwer, _, _ = primary_rates(10, 0.0)
    assert fwer <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / 300)
    _, hit, analytic = primary_rates(10, 0.06)
    assert hit >= analytic - 3 * math.sqrt(analytic * (1 - analytic) / 300)


def main() -> None:
    """Print every figure of docs/statistics.md's simulation table."""
    for name in DISTRIBUTIONS:
        print(name, {n: round(cell_coverage(name, n), 3) for n in (6, 10, 20)})
    print("clustered (10 subjects x 3 cases)", round(clustered_coverage(True), 3), round(clustered_coverage(False), 3))
    for n in (6, 10, 20):
        print("paired t n =", n, "type-I, coverage", [round(x, 3) for x in paired_rates(n)])
    for scope in ("all", "shifts"):
        print("ood_drop", scope, round(ood_drop_coverage(scope), 3))
    print("unpaired pooled rows (previous ood_drop)", round(unpaired_drop_coverage(), 3))
    print("primary FWER, n = 10:", round(primary_rates(10, 0.0)[0], 3))
    print("primary power (drop 0.06, n = 10): simulated, analytic", [round(x, 3) for x in primary_rates(10, 0.06)[1:]])


if __name__ == "__main__":
    main()
