"""Execution engines (``ENGINES``: local, ray), planning and the per-item work."""

from robusteval.engine import local, ray_engine  # noqa: F401  (registers the engines)
from robusteval.engine.base import ENGINES, Engine, EngineJob, ModelSpecLite
from robusteval.engine.plan import RESULT_COLUMNS, TIMING_COLUMNS, Plan, WorkItem, make_plan

__all__ = [
    "ENGINES",
    "RESULT_COLUMNS",
    "TIMING_COLUMNS",
    "Engine",
    "EngineJob",
    "ModelSpecLite",
    "Plan",
    "WorkItem",
    "make_plan",
]
