"""Running the searches: one Tune experiment per (model, breaking-point shift) and per model's worst case.

Every experiment lives in ``<out>/search/<name>/`` (Tune's ``storage_path``); a rerun restores it with
``Tuner.restore`` (finished trials are kept, unfinished ones resume from their last per-case checkpoint)
unless the experiment's definition changed (an error; ``fresh=True`` starts over). Trial order is Tune's
creation order (the counter at the start of each trial's ``experiment_tag``).
"""

from __future__ import annotations

__all__ = [
    "SearchContext",
    "SearchInterrupted",
    "resolve_dimensions",
    "run_search",
    "search_breaking_point",
    "search_worst_case",
    "select_cases",
]

import hashlib
import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robusteval.data.case import CaseRecord
from robusteval.data.split import split_records
from robusteval.errors import RobustEvalError
from robusteval.metrics import METRICS
from robusteval.protocol.schema import HUMAN_FAMILY, Protocol
from robusteval.protocol.search_spec import (
    BreakingPointSpec,
    ObjectiveSpec,
    SearchDimensionSpec,
    SearchSpec,
    WorstCaseSpec,
)
from robusteval.rundir import SEARCH_DIR
from robusteval.search.objective import (
    FINISHED,
    BreakRule,
    ObjectiveRule,
    bisection_plan,
    bootstrap_crossings,
    crossing,
)
from robusteval.search.parameters import MAPPING_VERSION, Dimension, resolve_dimension
from robusteval.serialize import json_safe
from robusteval.shifts.compose import seed_for

if TYPE_CHECKING:
    from ray.tune import ResultGrid, Tuner

    from robusteval.engine.base import EngineJob
    from robusteval.search.trainable import EvaluatorFactory

SEED_MODULUS = 2**32  # numpy RandomState / Optuna seeds
_CENSORED = 2.0  # stands for "no break within the range" (t is in [0, 1]) when taking bootstrap quantiles
_META = "robusteval-search.json"


class SearchInterrupted(RobustEvalError):
    """A search stopped before its budget (e.g. Ctrl+C); rerunning the same command resumes it."""


@dataclass(frozen=True)
class SearchContext:
    """Everything the searches of one model share."""

    model: str
    factory: EvaluatorFactory
    rule: ObjectiveRule
    seed: int
    storage: Path
    max_concurrent_trials: int = 1
    resources: Mapping[str, float] = field(default_factory=lambda: {"cpu": 1.0})
    callbacks: Sequence[Any] = ()  # extra Tune callbacks (tests use one to interrupt a search)
    fresh: bool = False


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def resolve_dimensions(specs: Sequence[SearchDimensionSpec]) -> list[Dimension]:
    """The protocol's dimensions with defaults filled in; Tune config keys ``p<i>_<shift>``."""
    return [
        resolve_dimension(d.shift, d.parameter, dict(d.options), d.range, key=f"p{i}_{d.shift}")
        for i, d in enumerate(specs)
    ]


def _fingerprint(definition: Mapping[str, Any]) -> str:
    blob = json.dumps({**definition, "mapping_version": MAPPING_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _trainable(ctx: SearchContext, dims: Sequence[Dimension]) -> Any:
    from ray import tune

    from robusteval.search.trainable import SearchTrainable

    wrapped = tune.with_parameters(SearchTrainable, factory=ctx.factory, dims=list(dims), rule=ctx.rule)
    return tune.with_resources(wrapped, dict(ctx.resources))


def _run_config(ctx: SearchContext, name: str) -> Any:
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    return tune.RunConfig(
        name=name,
        storage_path=str(ctx.storage.resolve()),
        verbose=0,
        # result.json per trial; no CSV or TensorBoard logger (see _tune_environment)
        callbacks=[JsonLoggerCallback(), *ctx.callbacks],  # type: ignore[no-untyped-call]
        checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1, num_to_keep=1),
        failure_config=tune.FailureConfig(max_failures=1),
    )


def _fit(
    ctx: SearchContext,
    name: str,
    definition: Mapping[str, Any],
    dims: Sequence[Dimension],
    make: Callable[[], Tuner],
) -> tuple[ResultGrid, float]:
    """Fit a new experiment, or restore and finish an existing one with the same definition."""
    from ray import tune

    path = ctx.storage / name
    meta = path / _META
    digest = _fingerprint(definition)
    if ctx.fresh and path.exists():
        shutil.rmtree(path)
    t0 = time.perf_counter()
    if path.exists() and tune.Tuner.can_restore(str(path.resolve())):
        recorded = json.loads(meta.read_text())["fingerprint"] if meta.is_file() else None
        if recorded != digest:
            raise RobustEvalError(
                f"{path}: holds a search with another definition (protocol changed?); "
                "use another out dir or --fresh to start over"
            )
        tuner = tune.Tuner.restore(str(path.resolve()), trainable=_trainable(ctx, dims), resume_unfinished=True)
    else:
        if path.exists():
            shutil.rmtree(path)  # a start that never got a state file
        path.mkdir(parents=True)
        meta.write_text(json.dumps({"fingerprint": digest, "definition": definition}, indent=2, default=str) + "\n")
        tuner = make()
    with _tune_environment():
        grid = tuner.fit()
    return grid, time.perf_counter() - t0


@contextmanager
def _tune_environment() -> Iterator[None]:
    """Tune's switches while a search runs: only the loggers we pass (per-case lists are not TensorBoard
    scalars), and no warning about the experiment snapshots that per-case checkpoints force (wanted: they
    make a restore lose at most the case in flight)."""
    wanted = {
        "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
        "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    }
    before = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _trials(grid: ResultGrid, dims: Sequence[Dimension], n_cases: int) -> list[dict[str, Any]]:
    """Every trial of an experiment in creation order: values, objective, per-case rows."""
    out = []
    for i in range(len(grid)):
        result = grid[i]
        config = dict(result.config or {})
        m = dict(result.metrics or {})
        tag = str(m.get("experiment_tag", ""))
        order = int(tag.split("_", 1)[0]) if tag[:1].isdigit() else 10**9
        done = int(m.get("cases_done", 0))
        objective = m.get("objective")
        known = all(d.key in config for d in dims)  # a trial that never reported may have no config here
        out.append(
            {
                "trial": order,
                "trial_id": m.get("trial_id"),
                "values": [float(config[d.key]) for d in dims] if known else None,
                "t": config.get("t"),
                "objective": None if objective is None else float(objective),
                "cases_done": done,
                "complete": known and done >= n_cases and result.error is None,
                "per_case": list(m.get("per_case", [])),
                "error": None if result.error is None else f"{type(result.error).__name__}: {result.error}",
            }
        )
    out.sort(key=lambda r: (r["trial"], str(r["trial_id"])))
    for i, row in enumerate(out, start=1):  # 1, 2, ... (Tune's counters start at 0 or 1 by search algorithm)
        row["trial"] = i
    return out


def _unfinished(grid: ResultGrid) -> int:
    return len(grid) - int(grid.num_terminated) - int(grid.num_errors)


def _trace(
    ctx: SearchContext, search: str, name: str, dims: Sequence[Dimension], trials: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            "model": ctx.model,
            "search": search,
            "experiment": name,
            "trial": t["trial"],
            "trial_id": t["trial_id"],
            "params": None if t["values"] is None else [d.describe(v) for d, v in zip(dims, t["values"], strict=True)],
            "objective": t["objective"],
            "cases_done": t["cases_done"],
            "complete": t["complete"],
            "error": t["error"],
        }
        for t in trials
    ]


def search_breaking_point(
    ctx: SearchContext, dim_spec: SearchDimensionSpec, spec: BreakingPointSpec, index: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The breaking point of one model under one shift parameter, and the trials' trace."""
    from ray import tune

    from robusteval.search.bisection import BisectionSearcher

    dim = resolve_dimensions([dim_spec])[0]
    kind, amount = spec.threshold
    rule = BreakRule(ctx.rule, kind, amount)
    n = ctx.factory.n_cases
    name = _safe(f"{ctx.model}.breaking_point.{index}.{dim.shift}.{dim.parameter}")
    definition = {
        "search": "breaking_point",
        "model": ctx.model,
        "dimension": [dim.shift, dim.parameter, dim.options, dim.low, dim.high],
        "rule": [
            kind,
            amount,
            ctx.rule.kind,
            ctx.rule.metric,
            ctx.rule.case_threshold,
            ctx.rule.failed_value,
        ],
        "grid": [spec.grid_points, spec.refine_steps],
        "seed": ctx.seed,
        "factory": ctx.factory.definition(),
    }

    def make() -> Tuner:
        searcher = BisectionSearcher(dim, rule, spec.grid_points, spec.refine_steps, n)
        return tune.Tuner(
            _trainable(ctx, [dim]),
            tune_config=tune.TuneConfig(
                metric="objective",
                mode=ctx.rule.mode,
                search_alg=searcher,
                num_samples=spec.grid_points + spec.refine_steps,
                max_concurrent_trials=ctx.max_concurrent_trials,
                reuse_actors=True,
            ),
            run_config=_run_config(ctx, name),
        )

    grid, _ = _fit(ctx, name, definition, [dim], make)
    if _unfinished(grid):
        raise SearchInterrupted(f"search {name} stopped before it finished; rerun the same command to resume it")
    trials = _trials(grid, [dim], n)
    done = {float(t["t"]): (float(t["objective"]) if t["complete"] else math.nan) for t in trials if t["t"] is not None}
    if bisection_plan(done, rule, spec.grid_points, spec.refine_steps) != FINISHED:
        raise SearchInterrupted(f"search {name} stopped before it finished; rerun the same command to resume it")
    entry = _breaking_point_entry(ctx, dim, spec, rule, name, trials, index)
    return entry, _trace(ctx, "breaking_point", name, [dim], trials)


def _breaking_point_entry(
    ctx: SearchContext,
    dim: Dimension,
    spec: BreakingPointSpec,
    rule: BreakRule,
    name: str,
    trials: list[dict[str, Any]],
    index: int,
) -> dict[str, Any]:
    points = sorted(((float(t["t"]), t) for t in trials if t["complete"] and t["t"] is not None), key=lambda p: p[0])
    span = dim.far - dim.identity
    resolution = abs(span) / (spec.grid_points - 1) / 2**spec.refine_steps
    entry: dict[str, Any] = {
        "model": ctx.model,
        "shift": dim.shift,
        "options": dict(dim.options),
        "parameter": dim.parameter,
        "identity": dim.identity,
        "far": dim.far,
        "threshold_kind": rule.kind,
        "threshold_amount": rule.amount,
        "objective": ctx.rule.kind,
        "metric": ctx.rule.metric,
        "resolution": resolution,
        "confidence_level": spec.confidence_level,
        "n_resamples": spec.n_resamples,
        "n_cases": ctx.factory.n_cases,
        "n_trials": len(trials),
        "experiment": name,
        "points": [{"value": dim.identity + t * span, "t": t, "objective": r["objective"]} for t, r in points],
    }
    if not points or points[0][0] != 0.0 or any(t["error"] for t in trials):
        return {
            **entry,
            "value": None,
            "ci_low": None,
            "ci_high": None,
            "censored": None,
            "threshold": None,
            "clean_objective": None,
            "note": "a trial failed; no estimate",
        }
    ts = [t for t, _ in points]
    scores = np.array([[float(c["score"]) for c in r["per_case"]] for _, r in points], dtype=np.float64)
    clean = float(scores[0].mean())
    t_hat = crossing(ts, scores, rule)
    boot = bootstrap_crossings(
        ts,
        scores,
        rule,
        spec.n_resamples,
        seed_for(ctx.seed, ctx.model, "breaking_point", index) % SEED_MODULUS,
    )
    boot = np.where(np.isfinite(boot), boot, _CENSORED)
    alpha = 1.0 - spec.confidence_level
    lo = float(np.quantile(boot, alpha / 2, method="lower"))
    hi = float(np.quantile(boot, 1 - alpha / 2, method="higher"))

    def value(t: float) -> float | None:
        return None if t >= _CENSORED or not math.isfinite(t) else float(dim.identity + t * span)

    v = value(t_hat)
    objectives = scores.mean(axis=1)
    first = next((j for j, o in enumerate(objectives) if rule.broken(float(o), clean)), None)
    bracket = None if first is None else [value(ts[max(first - 1, 0)]), value(ts[first])]
    note = "" if v is not None else f"no break within the range (up to {dim.far})"
    if v is not None and value(hi) is None:
        note = f"the upper confidence bound is beyond the range (> {dim.far})"
    return {
        **entry,
        "value": v,
        "strength": None if v is None else round(dim.strength(v), 6),
        "ci_low": value(lo),
        "ci_high": value(hi),
        "bracket": bracket,
        "censored": v is None,
        "n_resamples_censored": int((boot >= _CENSORED).sum()),
        "clean_objective": clean,
        "threshold": rule.threshold(clean),
        "note": note,
    }


def search_worst_case(ctx: SearchContext, spec: WorstCaseSpec) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The most damaging combination of ``spec.space`` found within the budget, and the trials' trace."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search import BasicVariantGenerator

    dims = resolve_dimensions(spec.space)
    n = ctx.factory.n_cases
    name = _safe(f"{ctx.model}.worst_case")
    seed = seed_for(ctx.seed, ctx.model, "worst_case") % SEED_MODULUS
    definition = {
        "search": "worst_case",
        "model": ctx.model,
        "dimensions": [[d.shift, d.parameter, d.options, d.low, d.high] for d in dims],
        "spec": spec.model_dump(mode="json", exclude={"time_budget_s"}),
        "rule": [ctx.rule.kind, ctx.rule.metric, ctx.rule.case_threshold, ctx.rule.failed_value],
        "seed": ctx.seed,
        "factory": ctx.factory.definition(),
    }

    def make() -> Tuner:
        search_alg: Any
        concurrent: int | None = ctx.max_concurrent_trials
        if spec.algorithm == "random":  # a SearchGenerator: it limits concurrency itself
            search_alg = BasicVariantGenerator(random_state=seed, max_concurrent=ctx.max_concurrent_trials)
            concurrent = None
        else:
            import optuna
            from ray.tune.search.optuna import OptunaSearch

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=spec.initial_random)
            search_alg = OptunaSearch(sampler=sampler)
        scheduler: Any = FIFOScheduler()  # type: ignore[no-untyped-call]
        if spec.scheduler == "asha" and n > 1:
            scheduler = ASHAScheduler(
                time_attr="training_iteration",
                max_t=n,
                grace_period=min(spec.grace_cases, n),
                reduction_factor=spec.reduction_factor,
            )
        return tune.Tuner(
            _trainable(ctx, dims),
            param_space={d.key: tune.uniform(d.low, d.high) for d in dims},
            tune_config=tune.TuneConfig(
                metric="objective",
                mode=ctx.rule.mode,
                search_alg=search_alg,
                scheduler=scheduler,
                num_samples=spec.num_samples,
                time_budget_s=spec.time_budget_s,
                max_concurrent_trials=concurrent,
                reuse_actors=True,
            ),
            run_config=_run_config(ctx, name),
        )

    grid, seconds = _fit(ctx, name, definition, dims, make)
    out_of_time = spec.time_budget_s is not None and seconds >= spec.time_budget_s
    if _unfinished(grid) or (len(grid) < spec.num_samples and not out_of_time):
        raise SearchInterrupted(f"search {name} stopped before its budget; rerun the same command to resume it")
    trials = _trials(grid, dims, n)
    complete = [t for t in trials if t["complete"]]
    entry: dict[str, Any] = {
        "model": ctx.model,
        "experiment": name,
        "algorithm": spec.algorithm,
        "scheduler": spec.scheduler,
        "objective_kind": ctx.rule.kind,
        "metric": ctx.rule.metric,
        "n_trials": len(trials),
        "n_complete": len(complete),
        "stopped_by": "num_samples" if len(trials) >= spec.num_samples else "time_budget_s",
    }
    if not complete:
        return {**entry, "params": None, "objective": None, "trial": None, "per_case": []}, _trace(
            ctx, "worst_case", name, dims, trials
        )
    sign = 1.0 if ctx.rule.lower_is_worse else -1.0
    worst = min(complete, key=lambda t: (sign * float(t["objective"]), t["trial"]))
    entry.update(
        params=[d.describe(v) for d, v in zip(dims, worst["values"], strict=True)],
        lower_is_worse=ctx.rule.lower_is_worse,
        objective=worst["objective"],
        trial=worst["trial"],
        per_case=worst["per_case"],
    )
    return entry, _trace(ctx, "worst_case", name, dims, trials)


def select_cases(records: Sequence[CaseRecord], protocol: Protocol, objective: ObjectiveSpec) -> list[CaseRecord]:
    """The fixed case list: ``case_ids`` in order, else the first ``cases`` in-distribution cases by id."""
    in_dist = split_records(records, protocol.dataset.split)["id"]
    by_id = {r.case_id: r for r in in_dist}
    if objective.case_ids is not None:
        missing = [c for c in objective.case_ids if c not in by_id]
        if missing:
            raise RobustEvalError(f"search.objective.case_ids: {missing} are not in-distribution cases")
        return [by_id[c] for c in objective.case_ids]
    return [by_id[c] for c in sorted(by_id)[: objective.cases]]


def _models(protocol: Protocol, spec: SearchSpec) -> list[Any]:
    """The models searched: ``spec.models``, by default every model but those with no prediction for a
    searched parameter point: the human baseline (its annotation exists for the clean images only) and
    ``predictions`` models (files exist for the protocol's own conditions only). Their every trial row would
    be unavailable, which is not a failure to score as ``failed_value``."""
    names = [m.name for m in protocol.models]
    human = [m.name for m in protocol.models if m.family == HUMAN_FAMILY]
    external = [m.name for m in protocol.models if m.adapter == "predictions" and m.name not in human]
    wanted = spec.models or [n for n in names if n not in human and n not in external]
    unknown = [m for m in wanted if m not in names]
    if unknown:
        raise RobustEvalError(f"search.models: {unknown} are not models of the protocol; it has {names}")
    searched_human = [m for m in wanted if m in human]
    if searched_human:
        raise RobustEvalError(
            f"search.models: {searched_human} are the human baseline (family {HUMAN_FAMILY}), whose annotation "
            "exists for the clean images only; search the models instead"
        )
    searched_external = [m for m in wanted if m in external]
    if searched_external:
        raise RobustEvalError(
            f"search.models: {searched_external} read precomputed files (adapter predictions), which exist for "
            "the protocol's conditions only, not for the shifts a search samples; search the models instead"
        )
    return [m for m in protocol.models if m.name in wanted]


def _resources(protocol: Protocol, concurrent: int) -> dict[str, float]:
    import ray

    ex = protocol.execution
    gpus = float(ray.cluster_resources().get("GPU", 0))  # type: ignore[no-untyped-call]
    out = {"cpu": float(ex.threads_per_worker)}
    if gpus > 0 and ex.device != "cpu":
        out["gpu"] = ex.gpus_per_worker or min(1.0, gpus / concurrent)
    return out


def run_search(
    protocol: Protocol,
    job: EngineJob,
    records: Sequence[CaseRecord],
    out_dir: Path,
    *,
    fresh: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the protocol's ``search:`` block over ``records`` (the dataset's cases) with ``job``'s models,
    base folder, device, threads and metric configuration; return the JSON-able ``summary["search"]``.

    The caller lists the cases and builds the job (``run`` and the ``search`` command alike). Tune experiments
    are kept under ``out_dir/search/`` and resumed by a rerun (``fresh``: start over). Starts a local Ray (or
    connects to ``execution.address`` / ``RAY_ADDRESS``) unless one is running. Raises
    :class:`SearchInterrupted` when a search stopped early (rerun to resume).
    """
    import ray

    from robusteval.search.trainable import EngineEvaluatorFactory  # imports Ray Tune

    spec = protocol.search
    if spec is None:
        raise RobustEvalError("the protocol has no 'search:' block")
    cases = select_cases(records, protocol, spec.objective)
    models = _models(protocol, spec)
    obj = spec.objective
    rule = ObjectiveRule(
        obj.kind, obj.metric, METRICS.get(obj.metric).higher_is_better, obj.case_threshold, obj.failed_value
    )
    seed = protocol.seed if spec.seed is None else spec.seed
    out: dict[str, Any] = {
        "settings": {
            "seed": seed,
            "objective": obj.model_dump(mode="json"),
            "lower_is_worse": rule.lower_is_worse,
            "cases": [r.case_id for r in cases],
            "models": [m.name for m in models],
            "breaking_point": None if spec.breaking_point is None else spec.breaking_point.model_dump(mode="json"),
            "worst_case": None if spec.worst_case is None else spec.worst_case.model_dump(mode="json"),
            "max_concurrent_trials": spec.max_concurrent_trials,
        },
        "breaking_points": [],
        "worst_case": [],
        "trace": [],
    }
    by_name = {ms.name: ms for ms in job.models}
    started_here = not ray.is_initialized()
    if started_here:
        address = protocol.execution.address or os.environ.get("RAY_ADDRESS")
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        resources = _resources(protocol, spec.max_concurrent_trials)
        for m in models:
            factory = EngineEvaluatorFactory(
                model=by_name[m.name],
                records=tuple(cases),
                base_dir=job.base_dir,
                device=job.device,
                threads=job.threads,
                metric=obj.metric,
                metric_config=job.metric_config,
                seed=seed,
            )
            ctx = SearchContext(
                m.name,
                factory,
                rule,
                seed,
                out_dir / SEARCH_DIR,
                spec.max_concurrent_trials,
                resources,
                fresh=fresh,
            )
            if spec.breaking_point is not None:
                for i, d in enumerate(spec.breaking_point.shifts):
                    n_shifts = len(spec.breaking_point.shifts)
                    log(f"search: {m.name}: breaking point of {d.shift} ({i + 1}/{n_shifts})")
                    entry, trace = search_breaking_point(ctx, d, spec.breaking_point, i)
                    out["breaking_points"].append(entry)
                    out["trace"].extend(trace)
            if spec.worst_case is not None:
                log(f"search: {m.name}: worst case over {' x '.join(d.shift for d in spec.worst_case.space)}")
                entry, trace = search_worst_case(ctx, spec.worst_case)
                out["worst_case"].append(entry)
                out["trace"].extend(trace)
    finally:
        if started_here:
            ray.shutdown()
    result: dict[str, Any] = json_safe(out)
    return result
