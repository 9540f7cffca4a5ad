"""Searches as Ray Tune experiments, on an analytic objective (tests/search/search_helpers.py).

One Ray (2 CPUs) for the module. Known answers: the breaking point of a monotone objective, the same trials
for the same seed, and an interrupted search that, restored, finishes without rerunning finished trials.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import search_helpers
from ray.tune import Callback
from search_helpers import AnalyticFactory, evaluations

from robusteval.protocol.search_spec import BreakingPointSpec, SearchDimensionSpec, WorstCaseSpec
from robusteval.search.objective import ObjectiveRule
from robusteval.search.runner import (
    SearchContext,
    SearchInterrupted,
    search_breaking_point,
    search_worst_case,
)

DSC = ObjectiveRule(kind="mean", metric="dsc", higher_is_better=True)
A = (0.80, 0.70, 0.75)
B = ((0.30, 0.10), (0.50, 0.20), (0.40, 0.30))  # per case, per dimension; mean over cases of dim 0: 0.4


@pytest.fixture(scope="module", autouse=True)
def ray_session() -> Iterator[None]:
    import ray
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(search_helpers)  # type: ignore[no-untyped-call]  # the workers cannot import the test folder
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _ctx(tmp: Path, power: float = 2.0, callbacks: tuple[Any, ...] = ()) -> SearchContext:
    factory = AnalyticFactory(A, B, power, tmp / "evaluations.jsonl")
    return SearchContext("m", factory, DSC, seed=7, storage=tmp / "search", callbacks=callbacks)


def test_breaking_point_of_a_monotone_objective_within_the_resolution(tmp_path: Path) -> None:
    # mean DSC = 0.75 - 0.4 x**2 with x = degrees / 5: a drop of 0.15 at x = sqrt(0.15 / 0.4)
    truth = 5.0 * math.sqrt(0.15 / 0.4)
    spec = BreakingPointSpec(
        shifts=[SearchDimensionSpec(shift="motion", parameter="degrees_bound")],
        drop=0.15,
        grid_points=5,
        refine_steps=3,
        n_resamples=200,
    )
    entry, trace = search_breaking_point(_ctx(tmp_path), spec.shifts[0], spec, 0)
    resolution = 5.0 / 4 / 2**3
    assert entry["resolution"] == pytest.approx(resolution)
    assert abs(entry["value"] - truth) <= resolution
    assert entry["clean_objective"] == pytest.approx(np.mean(A))
    assert entry["threshold"] == pytest.approx(np.mean(A) - 0.15)
    # grid 0, 1.25, ..., 5 then three bisections of [2.5, 3.75]: the last bracket holds the truth
    values = [t["params"][0]["value"] for t in trace]
    assert values[:5] == pytest.approx([0.0, 1.25, 2.5, 3.75, 5.0])
    assert values[5:] == pytest.approx([3.125, 2.8125, 2.96875])
    assert len(trace) == 8
    assert all(t["complete"] for t in trace)
    lo = max(v for v in values if v < truth)
    hi = min(v for v in values if v >= truth)
    assert hi - lo == pytest.approx(resolution)
    assert lo <= entry["value"] <= hi
    assert entry["bracket"] == pytest.approx([lo, hi])
    for t in trace:  # each trial's objective is the analytic mean at its value
        x = t["params"][0]["value"] / 5.0
        assert t["objective"] == pytest.approx(np.mean(A) - 0.4 * x**2)
    assert entry["ci_low"] <= entry["value"] <= entry["ci_high"]
    assert entry["strength"] == pytest.approx(entry["value"])  # motion: degrees_bound = severity
    assert len(evaluations(tmp_path / "evaluations.jsonl")) == 8 * len(A)  # every trial ran every case once
    again, trace_again = search_breaking_point(_ctx(tmp_path), spec.shifts[0], spec, 0)  # restores, runs nothing
    assert (again, trace_again) == (entry, trace)
    assert len(evaluations(tmp_path / "evaluations.jsonl")) == 8 * len(A)


WORST = WorstCaseSpec(
    space=[
        SearchDimensionSpec(shift="motion", parameter="degrees_bound"),
        SearchDimensionSpec(shift="bias_field", range=(0.0, 1.0)),
    ],
    algorithm="optuna",
    initial_random=3,
    scheduler="asha",
    num_samples=6,
)


def _comparable(trace: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(t["trial"], [p["value"] for p in t["params"]], t["objective"], t["cases_done"]) for t in trace]


@pytest.fixture(scope="module")
def worst_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return search_worst_case(_ctx(tmp_path_factory.mktemp("first"), power=1.0), WORST)


def test_worst_case_is_the_worst_complete_trial_with_replayable_cases(
    worst_run: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    entry, trace = worst_run
    assert entry["n_trials"] == len(trace) == 6
    complete = [t for t in trace if t["complete"]]
    assert entry["objective"] == min(t["objective"] for t in complete)
    assert any(not t["complete"] for t in trace)  # ASHA stopped a harmless trial early
    factory = AnalyticFactory(A, B, 1.0, Path("unused"))
    from robusteval.search.runner import resolve_dimensions

    dims = resolve_dimensions(WORST.space)
    values = [p["value"] for p in entry["params"]]
    expected = [factory.value(dims, values, i) for i in range(len(A))]
    assert [c["value"] for c in entry["per_case"]] == pytest.approx(expected)
    assert entry["objective"] == pytest.approx(np.mean(expected))
    assert all(0.0 <= v <= hi for v, hi in zip(values, (5.0, 1.0), strict=True))


def test_same_seed_gives_identical_trials(
    tmp_path: Path, worst_run: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    _, again = search_worst_case(_ctx(tmp_path, power=1.0), WORST)
    assert _comparable(again) == _comparable(worst_run[1])


class _InterruptAfter(Callback):
    """Sends Tune's stop signal (SIGUSR1) once ``n`` trials have completed, once: Tune restores callbacks
    with the experiment, so the ``fired`` file keeps the restored copy quiet."""

    def __init__(self, n: int, fired: Path) -> None:
        self.n, self.fired = n, fired
        self.finished: list[dict[str, Any]] = []

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        if self.fired.exists():
            return
        self.finished.append(dict(trial.config))
        if len(self.finished) == self.n:
            self.fired.touch()
            os.kill(os.getpid(), signal.SIGUSR1)


def test_interrupted_search_restores_and_finishes_without_repeating_trials(
    tmp_path: Path, worst_run: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    interrupt = _InterruptAfter(2, tmp_path / "fired")
    with pytest.raises(SearchInterrupted):
        search_worst_case(_ctx(tmp_path, power=1.0, callbacks=(interrupt,)), WORST)
    log = tmp_path / "evaluations.jsonl"
    before = evaluations(log)
    entry, trace = search_worst_case(_ctx(tmp_path, power=1.0), WORST)  # same storage: Tuner.restore
    assert _comparable(trace) == _comparable(worst_run[1])
    assert entry["objective"] == worst_run[0]["objective"]
    finished = {tuple(float(c[k]) for k in sorted(c) if k.startswith("p")) for c in interrupt.finished}
    assert len(finished) == 2
    rerun = [values for values, _ in evaluations(log)[len(before) :]]
    assert not finished & set(rerun)  # no finished trial evaluated again


PROTOCOL = """
name: search-tiny
seed: 3
dataset:
  source: synthetic
  params: {sites: [A], test_subjects: 1, resolution_mm: 2.0}
  split: {in_distribution: {site: [A]}}
models:
  - {name: unet, family: cnn, adapter: zoo, params: {entry: unet}}
metrics: {panel: [dsc]}
search:
  objective: {kind: mean, metric: dsc, cases: 1}
  worst_case:
    space: [{shift: bias_field}, {shift: rician_noise, range: [0.0, 0.4]}]
    algorithm: random
    scheduler: fifo
    num_samples: 2
"""


def test_search_command_end_to_end_with_the_zoo_unet(tmp_path: Path) -> None:
    """Trials run the real engine (zoo U-Net, one synthetic case); the worst case replays from its record."""
    import json

    from robusteval.cli import main
    from robusteval.data.sources import list_cases
    from robusteval.engine.base import ModelSpecLite, load_models
    from robusteval.metrics import MetricConfig, compute_metrics
    from robusteval.protocol import load_protocol
    from robusteval.search.parameters import condition_at
    from robusteval.search.runner import resolve_dimensions
    from robusteval.search.trainable import EngineEvaluatorFactory
    from robusteval.shifts import Condition, apply_condition, sample_condition

    path = tmp_path / "search.yaml"
    path.write_text(PROTOCOL)
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert main(["search", str(path), "--out", str(out), "--cache", str(cache)]) == 0
    result = json.loads((out / "search.json").read_text())
    assert result["settings"]["cases"] == ["A-test-000"]
    assert result["breaking_points"] == []
    (worst,) = result["worst_case"]
    assert [t["trial"] for t in result["trace"]] == [1, 2]

    protocol = load_protocol(path)
    assert protocol.search is not None
    assert protocol.search.worst_case is not None
    (record,) = list_cases(protocol.dataset, cache)
    case = record.load()
    spec = ModelSpecLite("unet", "cnn", "zoo", {"entry": "unet"})
    (model,) = load_models([spec], path.parent, "cpu")

    def dsc(c: Any) -> float:
        mask = model.adapter.predict(c).mask
        values, _ = compute_metrics(["dsc"], mask, c.label, c.spacing_mm, config=MetricConfig())
        return float(values["dsc"])

    # the worst case replays from its recorded parameters and seed
    (row,) = worst["per_case"]
    dims = resolve_dimensions(protocol.search.worst_case.space)
    values = [p["value"] for p in worst["params"]]
    assert sample_condition(condition_at(dims, values), 1, row["seed"]) == row["shift_params"]
    plain = Condition.build("replay", [(d.shift, d.options, None) for d in dims])
    assert dsc(apply_condition(case, plain, row["shift_params"])) == pytest.approx(row["value"], abs=1e-9)
    assert worst["objective"] == pytest.approx(row["value"])
    # at the identity values a trial evaluates the unshifted case
    factory = EngineEvaluatorFactory(spec, (record,), path.parent, "cpu", 1, "dsc", MetricConfig(), seed=3)
    clean = factory.build().evaluate(dims, [d.identity for d in dims], 0)
    assert clean["status"] == "ok"
    assert clean["value"] == pytest.approx(dsc(case), abs=1e-9)
