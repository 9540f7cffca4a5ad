"""``local`` engine: everything in this process, one case at a time (for debugging; same rows as ``ray``)."""

from __future__ import annotations

__all__ = ["LocalEngine"]

import os

from robusteval.engine.base import ENGINES, Engine, EngineJob, OnUnit, load_models, torch_threads
from robusteval.engine.work import evaluate_case


class LocalEngine(Engine):
    doc = "In-process, sequential; identical results to ray."

    def run(self, job: EngineJob, on_unit: OnUnit) -> None:
        with torch_threads(job.threads):
            models = load_models(job.models, job.base_dir, job.device)
            identity = f"local:{os.getpid()}"
            for items in job.plan.by_case().values():
                rows = evaluate_case(items, job.plan.conditions, models, job.metrics, job.metric_config)
                for row in rows:
                    row["worker"] = identity
                on_unit(len(items), rows)


ENGINES.add("local", LocalEngine)
