"""Engine interface: run a plan's items with every model and return the result rows (in plan order)."""

from __future__ import annotations

__all__ = ["ENGINES", "Engine", "EngineJob", "ModelSpecLite", "Progress", "load_models"]

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from robusteval.engine.plan import Plan
from robusteval.engine.work import ModelRuntime
from robusteval.metrics import MetricConfig
from robusteval.models import ADAPTERS
from robusteval.registry import Registry

Progress = Callable[[int], None]  # called with the number of work items just finished


@dataclass(frozen=True)
class ModelSpecLite:
    """What a worker needs to build a model (plain data, cheap to ship to other processes)."""

    name: str
    family: str
    adapter: str
    params: dict[str, Any]


@dataclass(frozen=True)
class EngineJob:
    plan: Plan
    models: list[ModelSpecLite]
    base_dir: Path
    metrics: list[str]
    metric_config: MetricConfig
    device: str
    workers: int
    address: str | None = None


def load_models(models: list[ModelSpecLite], base_dir: Path, device: str) -> list[ModelRuntime]:
    """Build every model once (per process)."""
    return [ModelRuntime(m.name, m.family, ADAPTERS.get(m.adapter)(m.name, m.params, base_dir, device)) for m in models]


class Engine(ABC):
    doc: ClassVar[str]

    @abstractmethod
    def run(self, job: EngineJob, progress: Progress) -> list[dict[str, Any]]:
        """Rows for every (item, model); the order is the plan's, whatever the execution order."""


ENGINES: Registry[type[Engine]] = Registry("engine")
