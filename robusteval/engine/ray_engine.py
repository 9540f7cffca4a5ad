"""``ray`` engine: units of work (runs of one case's items, ``Plan.units``) spread over Ray actors, each
holding every model loaded once.

Why actors rather than Ray Data: a model must be loaded once per worker and kept (actors do that), items are
few and heavy (whole 3D volumes), and a unit's order of work (load the case once, shift each item once, run
every model) keeps the case's data in one process. Each actor has one unit in flight, so memory stays bounded;
units go out largest first, and a heavy case is cut into several units, so workers finish together. Actors
restart (bounded) when their process dies, and the lost unit is retried. With ``execution.address`` (or
RAY_ADDRESS) the actors run on an existing cluster; nothing assumes one machine: on one node workers read cases
from the records' paths, on several (or with ``execution.ship_cases``) the driver sends each unit's case through
the object store; rows return through it.
"""

from __future__ import annotations

__all__ = ["CONNECT_TIMEOUT_S", "RayEngine", "gpu_share", "ray_address", "worker_count"]

import math
import os
import socket
import warnings
from typing import Any

from robusteval.data.case import Case
from robusteval.engine.base import ENGINES, Engine, EngineJob, OnUnit, load_models
from robusteval.engine.plan import WorkItem
from robusteval.engine.work import evaluate_case, failed_rows
from robusteval.errors import RobustEvalError

# What one CPU worker is allowed by default, to cap the worker count on many-core machines: a worker process
# with torch, MONAI and the models is 0.5-1 GB, plus the volumes of the unit in flight (1 mm: ~100 MB per copy).
WORKER_MEMORY_BYTES = 2 * 1024**3


class _Worker:
    def __init__(self, job: EngineJob) -> None:
        import ray
        import torch

        torch.set_num_threads(job.threads)
        self.job = job
        self.models = load_models(job.models, job.base_dir, job.device)
        gpus = ",".join(str(g) for g in ray.get_gpu_ids())
        self.identity = f"{socket.gethostname()}:{os.getpid()}" + (f":gpu{gpus}" if gpus else "")

    def evaluate(self, unit: list[WorkItem], case: Case | None = None) -> list[dict[str, Any]]:
        job = self.job
        rows = evaluate_case(unit, job.plan.conditions, self.models, job.metrics, job.metric_config, case)
        for row in rows:
            row["worker"] = self.identity
        return rows

    def pid(self) -> int:
        return os.getpid()


def worker_count(job: EngineJob, resources: dict[str, float], gpu_share: float) -> int:
    """How many actors, each with ``threads_per_worker`` CPUs and ``gpu_share`` GPUs, to start on a cluster with
    ``resources`` (Ray's names: CPU, GPU, memory in bytes).

    ``execution.workers`` if set, lowered (with a warning) to what the cluster can hold at once, since actors
    beyond that would wait for resources forever. Unset: as many as it holds: one per GPU share on GPUs, else
    one per ``threads_per_worker`` CPUs and at most one per ``WORKER_MEMORY_BYTES`` of memory.
    """
    fits = math.floor(resources.get("CPU", 0) / job.threads + 1e-9)
    if gpu_share > 0:
        fits = min(fits, math.floor(resources.get("GPU", 0) / gpu_share + 1e-9))
    if fits < 1:
        raise RobustEvalError(
            f"execution: one worker needs {job.threads} CPU(s) and {gpu_share:g} GPU(s); the Ray cluster has "
            f"{resources.get('CPU', 0):g} CPU(s) and {resources.get('GPU', 0):g} GPU(s)"
        )
    if job.workers:
        if job.workers > fits:
            warnings.warn(
                f"execution.workers: {job.workers} workers do not fit the Ray cluster at once; using {fits}",
                RuntimeWarning,
                stacklevel=2,
            )
        return min(job.workers, fits)
    if gpu_share == 0 and "memory" in resources:
        fits = min(fits, max(1, math.floor(resources["memory"] / WORKER_MEMORY_BYTES)))
    return fits


def gpu_share(job: EngineJob, gpus: float) -> float:
    """GPUs per actor: ``execution.gpus_per_worker``, else the GPUs split evenly among ``execution.workers``
    (at most one each), else one; 0 without GPUs or with ``device: cpu``."""
    if gpus <= 0 or job.device == "cpu":
        return 0.0
    if job.gpus_per_worker:
        return job.gpus_per_worker
    return min(1.0, gpus / job.workers) if job.workers else 1.0


# How long a given cluster address may take to accept a connection before the run gives up (exit 2).
CONNECT_TIMEOUT_S = 10.0


def ray_address(job: EngineJob) -> str:
    """The address for ``ray.init``: ``execution.address``, else ``RAY_ADDRESS``, else ``"local"``.

    ``"local"`` starts a new local Ray: without it Ray attaches to whatever cluster the machine has (a live
    ``ray start``, or a stale ``ray_current_cluster`` file, where ``ray.init`` hangs). A given address is tried
    first with a plain TCP connection bounded by ``CONNECT_TIMEOUT_S``; one that cannot be reached is a
    :class:`RobustEvalError` (exit 2) rather than a hang.
    """
    address = job.address or os.environ.get("RAY_ADDRESS") or "local"
    if address in ("local", "auto"):
        return address
    host, sep, port = address.split("://", 1)[-1].split("/", 1)[0].rpartition(":")
    if not sep or not port.isdigit():
        return address  # not host:port: left to Ray's own parsing and errors
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise RobustEvalError(
            f"execution.address: cannot connect to the Ray cluster at {address} ({exc or type(exc).__name__}); "
            "start it (ray start --head), fix execution.address or RAY_ADDRESS, or unset both to run on a new "
            "local Ray"
        ) from None
    return address


def _creation_error(exc: Exception) -> str:
    """The message of the exception a Ray actor's ``__init__`` raised (the last line of Ray's report)."""
    last = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    kind, sep, message = last.partition(": ")
    return message if sep and kind.rsplit(".", 1)[-1].endswith("Error") else last


def _driver_copy(unit: list[WorkItem]) -> Case | None:
    """The unit's case as read by the driver, to travel through the object store; None when the driver cannot
    read it (the worker then tries, and a bad case fails there with its reason)."""
    try:
        return unit[0].record.load()
    except Exception:
        return None


class RayEngine(Engine):
    doc = "Ray actors (one model set per worker, GPUs per the execution block); local machine or a cluster."

    def run(self, job: EngineJob, on_unit: OnUnit) -> None:
        import ray
        import torch

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=ray_address(job), include_dashboard=False, log_to_driver=False, configure_logging=False)
        actors: list[Any] = []
        try:
            resources = {k: float(v) for k, v in ray.cluster_resources().items()}  # type: ignore[no-untyped-call]
            per_worker_gpu = gpu_share(job, resources.get("GPU", 0.0))
            use_gpu = per_worker_gpu > 0
            n_workers = worker_count(job, resources, per_worker_gpu)
            device = "cuda" if use_gpu and torch.cuda.is_available() else ("cpu" if not use_gpu else job.device)
            worker_job = job if device == job.device else EngineJob(**{**job.__dict__, "device": device})
            actor_cls: Any = ray.remote(
                num_cpus=job.threads, num_gpus=per_worker_gpu, max_restarts=job.retries, max_task_retries=job.retries
            )(_Worker)
            actors.extend(actor_cls.remote(worker_job) for _ in range(n_workers))
            try:
                ray.get([actor.pid.remote() for actor in actors])
            except ray.exceptions.RayActorError as exc:  # a model that cannot load stops the run, as in local
                raise RobustEvalError(_creation_error(exc)) from None
            units = job.plan.units(n_workers)
            ship = job.ship_cases
            if ship is None:  # several machines: do not assume they share the storage the cases are on
                ship = len([node for node in ray.nodes() if node["Alive"]]) > 1  # type: ignore[no-untyped-call]
            models = [(m.name, m.family) for m in job.models]
            pending: dict[Any, tuple[int, int]] = {}  # result ref -> (actor, unit)
            next_unit = 0
            free = list(range(n_workers))
            while next_unit < len(units) or pending:
                while free and next_unit < len(units):
                    a = free.pop()
                    unit = units[next_unit]
                    pending[actors[a].evaluate.remote(unit, _driver_copy(unit) if ship else None)] = (a, next_unit)
                    next_unit += 1
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    a, u = pending.pop(ref)
                    try:
                        rows = ray.get(ref)
                    except ray.exceptions.RayActorError as exc:  # the unit killed its worker every time it ran
                        reason = f"the worker process died on this unit {job.retries + 1} times ({type(exc).__name__})"
                        rows = failed_rows(units[u], models, job.plan.conditions, reason)
                        actors[a] = actor_cls.remote(worker_job)  # the dead actor's place, for the other units
                    on_unit(len(units[u]), rows)
                    free.append(a)
        finally:
            for actor in actors:
                ray.kill(actor)
            if started_here:
                ray.shutdown()


ENGINES.add("ray", RayEngine)
