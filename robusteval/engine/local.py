"""``local`` engine: everything in this process, one case at a time (for debugging; same rows as ``ray``)."""

from __future__ import annotations

__all__ = ["LocalEngine"]

from typing import Any

from robusteval.engine.base import ENGINES, Engine, EngineJob, Progress, load_models
from robusteval.engine.work import evaluate_case


class LocalEngine(Engine):
    doc = "In-process, sequential; identical results to ray."

    def run(self, job: EngineJob, progress: Progress) -> list[dict[str, Any]]:
        models = load_models(job.models, job.base_dir, job.device)
        rows: list[dict[str, Any]] = []
        for items in job.plan.by_case().values():
            rows.extend(evaluate_case(items, job.plan.conditions, models, job.metrics, job.metric_config))
            progress(len(items))
        return rows


ENGINES.add("local", LocalEngine)
