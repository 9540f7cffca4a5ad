"""``ray`` engine: cases spread over Ray actors, each holding every model loaded once.

Why actors plus tasks rather than Ray Data: a model must be loaded once per worker and kept (actors do that),
items are few and heavy (whole 3D volumes), and the per-case order of work (load, shift each condition once,
run every model) keeps a case's data in one process. A bounded number of cases is in flight, so memory stays
bounded. Actors restart (bounded) when their process dies, and the lost case is retried. With
``execution.address`` (or RAY_ADDRESS) the actors run on an existing cluster; nothing assumes one machine:
cases are read by the worker from the record's paths (shared storage) and rows return through the object store.
"""

from __future__ import annotations

__all__ = ["RayEngine"]

import os
import socket
from typing import Any

from robusteval.engine.base import ENGINES, Engine, EngineJob, OnCase, load_models
from robusteval.engine.work import evaluate_case

MAX_RESTARTS = 3


class _Worker:
    def __init__(self, job: EngineJob) -> None:
        import ray
        import torch

        torch.set_num_threads(job.threads)
        self.job = job
        self.cases = list(job.plan.by_case().values())
        self.models = load_models(job.models, job.base_dir, job.device)
        gpus = ",".join(str(g) for g in ray.get_gpu_ids())
        self.identity = f"{socket.gethostname()}:{os.getpid()}" + (f":gpu{gpus}" if gpus else "")

    def evaluate(self, case_index: int) -> tuple[int, list[dict[str, Any]]]:
        rows = evaluate_case(
            self.cases[case_index], self.job.plan.conditions, self.models, self.job.metrics, self.job.metric_config
        )
        for row in rows:
            row["worker"] = self.identity
        return case_index, rows

    def pid(self) -> int:
        return os.getpid()


class RayEngine(Engine):
    doc = "Ray actors (one model set per worker, GPUs per the execution block); local machine or a cluster."

    def run(self, job: EngineJob, on_case: OnCase) -> None:
        import ray
        import torch

        started_here = not ray.is_initialized()
        if started_here:
            address = job.address or os.environ.get("RAY_ADDRESS")
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            gpus = float(ray.cluster_resources().get("GPU", 0))  # type: ignore[no-untyped-call]
            use_gpu = gpus > 0 and job.device != "cpu"
            n_workers = job.workers
            per_worker_gpu = (job.gpus_per_worker or min(1.0, gpus / n_workers)) if use_gpu else 0.0
            device = "cuda" if use_gpu and torch.cuda.is_available() else ("cpu" if not use_gpu else job.device)
            worker_job = job if device == job.device else EngineJob(**{**job.__dict__, "device": device})
            actor_cls: Any = ray.remote(
                num_cpus=job.threads, num_gpus=per_worker_gpu, max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS
            )(_Worker)
            actors: list[Any] = [actor_cls.remote(worker_job) for _ in range(n_workers)]
            cases = list(job.plan.by_case().values())
            pending: dict[Any, int] = {}
            next_case = 0
            free = list(range(n_workers))
            while next_case < len(cases) or pending:
                while free and next_case < len(cases):
                    a = free.pop()
                    pending[actors[a].evaluate.remote(next_case)] = a
                    next_case += 1
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    a = pending.pop(ref)
                    index, rows = ray.get(ref)
                    on_case(len(cases[index]), rows)
                    free.append(a)
            for actor in actors:
                ray.kill(actor)
        finally:
            if started_here:
                ray.shutdown()


ENGINES.add("ray", RayEngine)
