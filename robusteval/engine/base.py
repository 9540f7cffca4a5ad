"""Engine interface: run a plan's items with every model and return the result rows (in plan order)."""

from __future__ import annotations

__all__ = ["ENGINES", "Engine", "EngineJob", "ModelSpecLite", "OnUnit", "load_models", "torch_threads"]

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from robusteval.engine.plan import Plan
from robusteval.engine.work import ModelRuntime
from robusteval.errors import RobustEvalError
from robusteval.metrics import MetricConfig
from robusteval.models import ADAPTERS
from robusteval.protocol.schema import Protocol
from robusteval.registry import Registry

OnUnit = Callable[[int, list[dict[str, Any]]], None]  # (number of work items, their rows) per finished unit


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
    workers: int | None  # None: as many as the cluster holds (``ray_engine.worker_count``)
    threads: int = 1  # torch threads per worker: equal in every engine, so results are bitwise identical
    gpus_per_worker: float | None = None  # None: the cluster's GPUs shared evenly by the workers
    address: str | None = None
    retries: int = 3  # times a unit runs again after its worker process died; then its items fail with a reason
    ship_cases: bool | None = None  # send case data through Ray's object store; None: on clusters of 2+ nodes

    @classmethod
    def from_protocol(cls, protocol: Protocol, plan: Plan, protocol_path: Path) -> EngineJob:
        """The job a protocol asks for (its models, metrics and ``execution:`` block) over ``plan``; relative
        paths in model parameters resolve against the protocol file's folder."""
        ex = protocol.execution
        return cls(
            plan=plan,
            models=[ModelSpecLite(m.name, m.family, m.adapter, dict(m.params)) for m in protocol.models],
            base_dir=protocol_path.resolve().parent,
            metrics=list(protocol.metrics.panel),
            metric_config=MetricConfig(**protocol.metrics.config_fields()),
            device=ex.device,
            workers=ex.workers,
            threads=ex.threads_per_worker,
            gpus_per_worker=ex.gpus_per_worker,
            address=ex.address,
            retries=ex.retries,
            ship_cases=ex.ship_cases,
        )


def load_models(models: list[ModelSpecLite], base_dir: Path, device: str) -> list[ModelRuntime]:
    """Build every model once (per process); RobustEvalError naming the model that cannot be built."""
    out = []
    for m in models:
        try:
            adapter = ADAPTERS.get(m.adapter)(m.name, m.params, base_dir, device)
        except RobustEvalError:
            raise
        except Exception as exc:
            raise RobustEvalError(f"model {m.name}: cannot be loaded: {type(exc).__name__}: {exc}") from exc
        out.append(ModelRuntime(m.name, m.family, adapter))
    return out


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (CPU kernels' results depend on it), then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Engine(ABC):
    doc: ClassVar[str]

    @abstractmethod
    def run(self, job: EngineJob, on_unit: OnUnit) -> None:
        """Evaluate every item of the plan with every model; hand each finished unit's rows to ``on_unit``."""


ENGINES: Registry[type[Engine]] = Registry("engine")
