"""Objective scores, the bisection plan and the case bootstrap, against closed-form answers (no Ray)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robusteval.search.objective import (
    FINISHED,
    BreakRule,
    ObjectiveRule,
    bisection_plan,
    bootstrap_crossings,
    crossing,
)

DSC = ObjectiveRule(kind="mean", metric="dsc", higher_is_better=True)


def _run_plan(f: object, rule: BreakRule, grid_points: int, refine_steps: int) -> dict[float, float]:
    done: dict[float, float] = {}
    while (plan := bisection_plan(done, rule, grid_points, refine_steps)) != FINISHED:
        assert isinstance(plan, list)
        done.update({t: f(t) for t in plan})  # type: ignore[operator]
    return done


@pytest.mark.parametrize(("grid_points", "refine_steps"), [(5, 3), (3, 6), (11, 0)])
def test_bisection_brackets_the_crossing_of_a_monotone_objective(grid_points: int, refine_steps: int) -> None:
    truth = 0.6180339887

    def f(t: float) -> float:
        return 0.9 - 0.2 * (t / truth) ** 3  # crosses 0.9 - 0.2 at t = truth

    rule = BreakRule(DSC, "drop", 0.2)
    done = _run_plan(f, rule, grid_points, refine_steps)
    assert len(done) == grid_points + refine_steps
    lo = max(t for t in done if t < truth)
    hi = min(t for t in done if t >= truth)
    assert hi - lo == pytest.approx(1 / (grid_points - 1) / 2**refine_steps)
    t_hat = crossing(sorted(done), np.array([[done[t]] for t in sorted(done)]), rule)
    assert lo <= t_hat <= hi


def test_plans_that_end_early() -> None:
    never = _run_plan(lambda t: 0.9, BreakRule(DSC, "drop", 0.1), 5, 3)
    assert sorted(never) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert crossing(sorted(never), np.full((5, 2), 0.9), BreakRule(DSC, "drop", 0.1)) == math.inf
    already = BreakRule(DSC, "level", 0.95)  # the clean case is below the level: breaks at the identity
    assert len(_run_plan(lambda t: 0.9 - t, already, 3, 4)) == 3
    assert crossing([0.0, 0.5, 1.0], np.array([[0.9], [0.4], [-0.1]]), already) == 0.0
    assert bisection_plan({0.0: 0.9, 1.0: math.nan}, BreakRule(DSC, "drop", 0.1), 2, 3) == FINISHED


def test_bootstrap_crossings_equal_the_closed_form_per_resample() -> None:
    # case i scores a_i - b_i t: a resample crosses a drop d at t = d / mean(b over its cases)
    a = np.array([0.9, 0.8, 0.85, 0.7, 0.75])
    b = np.array([0.3, 0.6, 0.45, 0.9, 0.2])
    ts = [0.0, 0.2, 0.45, 0.7, 1.0]
    scores = a[None, :] - np.array(ts)[:, None] * b[None, :]
    rule = BreakRule(DSC, "drop", 0.25)
    got = bootstrap_crossings(ts, scores, rule, 500, seed=17)
    idx = np.random.default_rng(17).integers(0, 5, size=(500, 5))
    expected = 0.25 / b[idx].mean(axis=1)
    expected = np.where(expected <= 1.0, expected, np.inf)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.isinf(got).any()
    assert np.isfinite(got).any()
    assert crossing(ts, scores, rule) == pytest.approx(0.25 / b.mean())


def test_scores_and_directions() -> None:
    ok = {"value": 0.7, "status": "ok"}
    failed = {"value": None, "status": "failed"}
    assert DSC.score(ok) == 0.7
    assert DSC.score(failed) == 0.0
    assert DSC.mode == "min"
    frac = ObjectiveRule("fraction_failed", "dsc", True, case_threshold=0.75)
    assert (frac.score(ok), frac.score({"value": 0.8, "status": "ok"}), frac.score(failed)) == (1.0, 0.0, 1.0)
    assert frac.mode == "max"
    assert not frac.lower_is_worse
    hd = ObjectiveRule("mean", "hd95", False)  # lower is better: damage raises it
    assert hd.mode == "max"
    assert BreakRule(hd, "drop", 2.0).threshold(5.0) == 7.0
    assert BreakRule(frac, "drop", 0.25).broken(0.5, clean=0.0)
    assert not BreakRule(frac, "drop", 0.25).broken(0.25, clean=0.0)
