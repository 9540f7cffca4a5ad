"""Producing a run: protocol -> data -> plan -> engine -> cases.csv -> statistics -> summary.json ->
illustrations -> report.

Everything the report shows is written into the run folder first (its files and names:
:mod:`robusteval.rundir`); the report is then rendered from that folder alone, as ``robusteval report DIR``
renders it again later.
"""

from __future__ import annotations

__all__ = [
    "EXIT_FAILED_ITEMS",
    "EXIT_INVALID",
    "EXIT_OK",
    "RunResult",
    "check_model_files",
    "metric_facts",
    "run_protocol",
]

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from robusteval import __version__
from robusteval.data.sources import list_cases
from robusteval.engine import ENGINES, EngineJob, make_plan
from robusteval.engine.base import load_models, torch_threads
from robusteval.engine.progress import progress_reporter
from robusteval.engine.store import ItemStore, failed_items, item_keys, item_row_keys, pending_items, row_key
from robusteval.engine.work import prediction_targets
from robusteval.errors import FieldError, RunInterrupted
from robusteval.illustrate import write_examples, write_run_images
from robusteval.metrics import METRICS
from robusteval.models import ADAPTERS
from robusteval.paths import claim_out_dir, default_cache_dir, hold_out_dir
from robusteval.protocol import Protocol, protocol_sha256
from robusteval.report import render_report
from robusteval.rundir import INDEX, ITEMS, TIMING_COLUMNS, MetricFacts, write_cases, write_summary
from robusteval.search import run_search
from robusteval.stats import StatsSettings, summarize
from robusteval.status import FAILED, STATUSES, status_counts

EXIT_OK, EXIT_INVALID, EXIT_FAILED_ITEMS = 0, 2, 3
PACKAGES = (
    "torch",
    "monai",
    "torchio",
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "ray",
    "pydantic",
    "nibabel",
    "nilearn",
    "seaborn",
    "edt",
    "connected-components-3d",
)


@dataclass(frozen=True)
class RunResult:
    out_dir: Path
    n_rows: int
    n_failed: int
    exit_code: int


def _versions() -> dict[str, str]:
    out = {"robusteval": __version__, "python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _git_commit() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None


def stats_settings(protocol: Protocol) -> StatsSettings:
    """The statistics block, the headline metric, the seed and the checks as ``StatsSettings``."""
    values = protocol.statistics.model_dump()
    checks = [{kind: body.model_dump() for kind, body in check.items()} for check in protocol.checks]
    return StatsSettings.from_mapping(
        {**values, "headline_metric": protocol.report.headline_metric, "seed": protocol.seed, "checks": checks}
    )


def worst_values(cases: pd.DataFrame, metrics: list[str]) -> dict[str, float]:
    """The declared worst value of each distance metric (unit mm): the largest field-of-view diagonal in the run.

    Distances are NaN when exactly one mask is empty; statistics replace them by this value and count them.
    """
    known = cases["fov_diagonal_mm"].dropna()
    if known.empty:
        return {}
    diagonal = float(known.max())
    return {m: diagonal for m in metrics if m in METRICS and METRICS.get(m).unit == "mm"}


def metric_facts(metrics: list[str]) -> dict[str, MetricFacts]:
    """summary.json's ``metrics`` block: per metric its unit, direction and whether it is descriptive (a volume:
    no better or worse; ``higher_is_better`` null), so that the report needs no metric registry."""
    out: dict[str, MetricFacts] = {}
    for name in metrics:
        if name not in METRICS:
            out[name] = {"unit": "", "higher_is_better": True, "descriptive": False, "doc": "not a registered metric"}
            continue
        m = METRICS.get(name)
        out[name] = {
            "unit": m.unit,
            "higher_is_better": None if m.descriptive else bool(m.higher_is_better),
            "descriptive": bool(m.descriptive),
            "doc": m.doc,
        }
    return out


def check_model_files(job: EngineJob) -> None:
    """Before any work: a :class:`FieldError` at the model's entry when the files it reads cannot serve
    the plan (a ``predictions`` pattern matching no file, or none of the planned items'), so a wrong pattern
    is an invalid protocol (exit 2), not a run whose every row of that model is silently unavailable."""
    targets = prediction_targets(job.plan)
    for i, spec in enumerate(job.models):
        try:
            ADAPTERS.get(spec.adapter).check_files(spec.params, job.base_dir, targets)
        except ValueError as exc:
            raise FieldError(("models", i), f"model {spec.name}: {exc}") from None


def profile_models(job: EngineJob, protocol: Protocol, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Parameters, FLOPs, latency, peak memory, energy and CO2 (measured or estimated) per model, on the
    first ID case."""
    from robusteval.models.efficiency import profile_model  # imports torch: only when a run profiles

    first = next((i for i in job.plan.items if i.split == "id"), None)
    out: list[dict[str, Any]] = []
    if first is None:
        return out
    try:
        case = first.record.load()
    except Exception as exc:
        reason = f"no case to profile on: {exc}"
        return [{"model": m.name, "family": m.family, "error": reason} for m in job.models]
    with torch_threads(job.threads):
        for spec in job.models:
            entry: dict[str, Any] = {"model": spec.name, "family": spec.family, "case_id": case.case_id}
            try:
                (runtime,) = load_models([spec], job.base_dir, job.device)
                r = protocol.report
                entry.update(profile_model(runtime.adapter, case, repeats=2, warmup=1,
                                           country_iso_code=r.energy_country_iso,
                                           grid_gco2_per_kwh=r.energy_grid_gco2_per_kwh,
                                           cpu_tdp_per_core_w=r.energy_cpu_tdp_per_core_w))  # fmt: skip
            except Exception as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"
                log(f"efficiency profile of {spec.name} failed: {entry['error']}")
            out.append(entry)
    return out


def _replaces(stored: dict[str, Any] | None) -> bool:
    """Whether a newly computed row takes the place of ``stored`` (none yet, or a failed one)."""
    return stored is None or stored.get("status") == FAILED


def _retried(before: dict[str, dict[str, Any]], done: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """summary.json's ``provenance.retried``: per row of an item that had failed in an earlier run of the folder
    and was computed again, its key, the earlier error and the status it has now (``failed`` again: a
    lasting failure; ``ok``: it was transient)."""
    out = []
    for key, old in before.items():
        new = done[key]
        out.append({"case_id": old["case_id"], "shift": old["shift"], "severity": int(old["severity"]),
                    "model": old["model"], "previous_error": old.get("error", ""),
                    "status": new.get("status", FAILED)})  # fmt: skip
    return out


def run_protocol(
    protocol: Protocol,
    protocol_path: Path,
    out_dir: Path,
    *,
    cache_dir: Path | None = None,
    engine: str | None = None,
    fresh: bool = False,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> RunResult:
    """Run ``protocol`` and write its run folder (:mod:`robusteval.rundir`) under ``out_dir``: cases.csv,
    summary.json, the illustrations, then index.html rendered from those files.

    Finished cases are kept in ``out_dir/items.jsonl``; a rerun resumes from them unless ``fresh``.
    ``out_dir`` must be new, empty or an earlier run's folder (its marker file); ``force`` writes into any
    folder (see :func:`robusteval.paths.claim_out_dir`). One run at a time holds ``out_dir``
    (:func:`robusteval.paths.hold_out_dir`): a second one is refused, naming the live run's pid.
    """
    claim_out_dir(out_dir, "run", force=force)  # before anything is written: never over the user's files
    with hold_out_dir(out_dir):
        return _run_protocol(protocol, protocol_path, out_dir, cache_dir=cache_dir, engine=engine, fresh=fresh, log=log)


def _run_protocol(
    protocol: Protocol,
    protocol_path: Path,
    out_dir: Path,
    *,
    cache_dir: Path | None,
    engine: str | None,
    fresh: bool,
    log: Callable[[str], None],
) -> RunResult:
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    cache_dir = (cache_dir or default_cache_dir()).resolve()  # workers (Ray Tune trials) may change cwd
    records = list_cases(protocol.dataset, cache_dir)
    plan = make_plan(protocol, records)
    engine_name = engine or protocol.execution.engine
    job = EngineJob.from_protocol(protocol, plan, protocol_path)
    check_model_files(job)
    store = ItemStore(out_dir / ITEMS)
    if fresh:
        store.clear()
    keys = item_keys(job)
    done = store.load()
    todo = pending_items(job, keys, done)
    retry = failed_items(job, keys, done)
    # the failed rows of the last run, for the record (an item's other rows, ok or unavailable, stay as they are)
    before = {k: done[k] for i in retry for k in item_row_keys(job, keys, i) if done[k].get("status") == FAILED}
    log(
        f"{len(records)} cases listed, {len(plan.items)} work items x {len(job.models)} models, engine {engine_name}"
        + (f"; resuming: {len(plan.items) - len(todo)} items already done" if len(todo) < len(plan.items) else "")
    )
    if retry:
        log(f"{len(retry)} failed items from the last run are computed again")

    if todo:
        with progress_reporter(len(todo), log) as progress:

            def on_unit(n_items: int, rows: list[dict[str, Any]]) -> None:
                # a stored ok or unavailable row is final: a retried item replaces only its failed rows
                new = [(k, r) for r in rows if _replaces(done.get(k := row_key(keys, r)))]
                if new:
                    store.append([k for k, _ in new], [r for _, r in new])
                    done.update(new)
                progress(n_items)

            try:
                ENGINES.get(engine_name)().run(replace(job, plan=replace(plan, items=todo)), on_unit)
            except KeyboardInterrupt:  # every finished unit is already in the store (appended and fsynced)
                kept = len(plan.items) - len(pending_items(job, keys, done))
                raise RunInterrupted(
                    f"interrupted: {kept} of {len(plan.items)} items kept in {out_dir / ITEMS}; "
                    "rerun the same command to resume"
                ) from None
    t_engine = time.perf_counter() - t0
    metric_cols = list(protocol.metrics.panel)
    ordered = [done[keys[(i.record.case_id, i.condition, i.severity, m.name)]] for i in plan.items for m in job.models]
    cases = write_cases(out_dir, ordered, metric_cols)
    timings = pd.DataFrame(ordered, columns=["model", "status", *TIMING_COLUMNS])
    ok_timings = timings[timings["status"] == "ok"].groupby("model")["inference_s"]
    counts = status_counts(cases["status"])  # ok + failed + unavailable = rows: the one accounting of a run
    n_failed = counts[FAILED]
    stats = summarize(cases, metric_cols, stats_settings(protocol), worst_values=worst_values(cases, metric_cols))
    efficiency = profile_models(job, protocol, log) if protocol.report.efficiency else []
    search: dict[str, Any] | None = None
    if protocol.search is not None:
        search = run_search(protocol, job, records, out_dir, fresh=fresh, log=log)
    summary: dict[str, Any] = {
        "protocol": protocol.model_dump(mode="json"),
        "provenance": {
            "protocol_file": str(protocol_path),
            "protocol_sha256": protocol_sha256(protocol_path),
            "packages": _versions(),
            "seeds": {"protocol": protocol.seed, "bootstrap": protocol.seed},
            "engine": engine_name,
            "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
            "git_commit": _git_commit(),
            "start_time": started.isoformat(),
            "end_time": dt.datetime.now(dt.UTC).isoformat(),
            "timings_s": {"engine": round(t_engine, 2), "total": round(time.perf_counter() - t0, 2)},
            "inference_s_median": {str(k): round(float(v), 4) for k, v in ok_timings.median().items()},
            # which process computed how many rows (host:pid, plus :gpuN on a GPU): shows the parallelism a run got
            "rows_per_worker": {str(k): int(v) for k, v in timings["worker"].value_counts().sort_index().items()},
            # rows that had failed in an earlier run of this folder and were computed again by this one
            "retried": _retried(before, done),
        },
        "dataset": {
            "listed": len(records),
            "excluded_by_split": plan.excluded,
            "failed_cases": sorted(set(cases.loc[cases["status"] == FAILED, "case_id"])),
        },
        "counts": counts,
        "metrics": metric_facts(metric_cols),
        "models": efficiency,
        **({"search": search} if search is not None else {}),
        **stats,
    }
    write_summary(out_dir, summary)
    for note in write_run_images(out_dir, protocol, records, plan):
        log(note)
    if protocol.report.examples:
        for note in write_examples(out_dir, protocol, job, cases, search):
            log(note)
    render_report(out_dir)
    tally = ", ".join(f"{counts[s]} {s}" for s in STATUSES)
    log(f"wrote {out_dir / INDEX} ({len(cases)} rows: {tally}) in {time.perf_counter() - t0:.1f}s")
    return RunResult(out_dir, len(cases), n_failed, EXIT_FAILED_ITEMS if n_failed else EXIT_OK)
