"""``ray`` engine: units of work (runs of one case's items, ``Plan.units``) spread over Ray actors, each
holding every model loaded once.

Why actors rather than Ray Data: a model must be loaded once per worker and kept (actors do that), items are
few and heavy (whole 3D volumes), and a unit's order of work (load the case once, shift each item once, run
every model) keeps the case's data in one process. Each actor has one unit in flight, so memory stays bounded;
units go out largest first, and a heavy case is cut into several units, so workers finish together.

Faults: Ray restarts nothing; the driver does (``_Schedule``). A worker gets work only once its ``ready()``
ping has answered (its models loaded), so a replacement still starting, or waiting for a node with room, holds
no unit. A unit whose worker is lost goes back to the queue, in front, after an exponential backoff
(``BACKOFF_S`` doubling to ``BACKOFF_MAX_S``), for whichever worker is ready first. Only a worker process that
died on a live node counts against the unit (``execution.retries`` deaths, then its items fail with the
reason); a lost node (removed, preempted, unreachable) or a connection error (``ActorUnavailableError``: the
actor may be alive; it is pinged again before it gets more work) does not, up to ``NODE_LOSSES_MAX`` times.
``ray.wait`` wakes every ``WAIT_S`` to look at the workers' nodes, so a unit on a node that vanished without a
word is found and sent again rather than waited for forever; with no worker ready for ``NO_WORKER_TIMEOUT_S``
the run stops (exit 2), its finished units kept. With ``execution.address`` (or
RAY_ADDRESS) the actors run on an existing cluster; nothing assumes one machine: on one node workers read cases
from the records' paths, on several (or with ``execution.ship_cases``) the driver sends each unit's case through
the object store; rows return through it.
"""

from __future__ import annotations

__all__ = ["CONNECT_TIMEOUT_S", "RayEngine", "gpu_share", "ray_address", "worker_count"]

import math
import os
import socket
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from robusteval.data.case import Case
from robusteval.engine.base import ENGINES, Engine, EngineJob, OnUnit, load_models
from robusteval.engine.plan import WorkItem
from robusteval.engine.work import evaluate_case, failed_rows
from robusteval.errors import RobustEvalError

# A unit lost with its worker waits BACKOFF_S * 2**(tries - 1), at most BACKOFF_MAX_S, before it runs again.
BACKOFF_S = 0.5
BACKOFF_MAX_S = 8.0
# The longest ray.wait blocks before the driver looks at its workers' nodes again.
WAIT_S = 2.0
# How long a run goes on with no worker ready (all lost, none placed) before it stops; finished units are kept.
NO_WORKER_TIMEOUT_S = 600.0
# Times a unit may be lost with a node or a connection (not its fault) before its items fail: a bound on a run
# over a cluster that keeps losing nodes.
NODE_LOSSES_MAX = 10

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

    def ready(self) -> str:
        """The id of the node this worker runs on, once its models are loaded."""
        import ray

        return str(ray.get_runtime_context().get_node_id())


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


@dataclass
class _Slot:
    """One place for a worker: its actor, the ``ready()`` ping in flight (None once it answered), the node it
    runs on and the unit it holds. A slot gets work only once ready: a replacement actor still loading its
    models, or waiting for a node with room, holds nothing."""

    actor: Any
    ping: Any
    node: str = ""
    unit: int | None = None


@dataclass
class _Losses:
    """Per unit: worker deaths it caused (its process died on a live node) and times it was lost with a node
    or a connection (not its fault); both delay its next try (``backoff_s``)."""

    deaths: Counter[int] = field(default_factory=Counter)
    lost: Counter[int] = field(default_factory=Counter)

    def backoff_s(self, u: int) -> float:
        tries = self.deaths[u] + self.lost[u]
        return min(BACKOFF_MAX_S, BACKOFF_S * 2.0 ** max(0, tries - 1))


def _node_lost(exc: Exception, node: str, alive: set[str]) -> bool:
    """Whether an actor died with its node (removed, preempted, unreachable) rather than by its own work."""
    return bool(getattr(exc, "preempted", False)) or "node has died" in str(exc) or (bool(node) and node not in alive)


def _alive_nodes() -> set[str]:
    import ray

    return {str(n["NodeID"]) for n in ray.nodes() if n["Alive"]}  # type: ignore[no-untyped-call]


class RayEngine(Engine):
    doc = "Ray actors (one model set per worker, GPUs per the execution block); local machine or a cluster."

    def run(self, job: EngineJob, on_unit: OnUnit) -> None:
        import ray
        import torch

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=ray_address(job), include_dashboard=False, log_to_driver=False, configure_logging=False)
        slots: list[_Slot] = []
        try:
            resources = {k: float(v) for k, v in ray.cluster_resources().items()}  # type: ignore[no-untyped-call]
            per_worker_gpu = gpu_share(job, resources.get("GPU", 0.0))
            use_gpu = per_worker_gpu > 0
            n_workers = worker_count(job, resources, per_worker_gpu)
            device = "cuda" if use_gpu and torch.cuda.is_available() else ("cpu" if not use_gpu else job.device)
            worker_job = job if device == job.device else EngineJob(**{**job.__dict__, "device": device})
            # no restarts by Ray: a lost actor is replaced here, and its unit goes to whichever worker is ready
            actor_cls: Any = ray.remote(num_cpus=job.threads, num_gpus=per_worker_gpu, max_restarts=0)(_Worker)

            def new_slot() -> _Slot:
                actor = actor_cls.remote(worker_job)
                return _Slot(actor, actor.ready.remote())

            slots.extend(new_slot() for _ in range(n_workers))
            units = job.plan.units(n_workers)
            ship = job.ship_cases
            if ship is None:  # several machines: do not assume they share the storage the cases are on
                ship = len(_alive_nodes()) > 1
            _Schedule(job, units, slots, new_slot, on_unit, ship).run()
        finally:
            for slot in slots:
                ray.kill(slot.actor)
            if started_here:
                ray.shutdown()


class _Schedule:
    """Hands units to ready workers and survives losing them (the retry policy of the module docstring)."""

    def __init__(
        self,
        job: EngineJob,
        units: list[list[WorkItem]],
        slots: list[_Slot],
        new_slot: Callable[[], _Slot],
        on_unit: OnUnit,
        ship: bool,
    ) -> None:
        self.job, self.units, self.slots, self.new_slot, self.on_unit, self.ship = (
            job, units, slots, new_slot, on_unit, ship
        )  # fmt: skip
        self.queue: list[int] = list(range(len(units)))  # waiting units, largest first; a lost one goes in front
        self.not_before: dict[int, float] = {}
        self.losses = _Losses()
        self.calls: dict[Any, tuple[int, bool]] = {}  # ref in flight -> (slot, whether it is a ready() ping)
        self.models = [(m.name, m.family) for m in job.models]
        self.last_ready = time.monotonic()

    def run(self) -> None:
        import ray

        for k, slot in enumerate(self.slots):
            self.calls[slot.ping] = (k, True)
        last_check = time.monotonic()
        while self.queue or any(slot.unit is not None for slot in self.slots):
            self._hand_out()
            now = time.monotonic()
            if any(slot.ping is None for slot in self.slots):
                self.last_ready = now
            elif now - self.last_ready > NO_WORKER_TIMEOUT_S:
                raise RobustEvalError(
                    f"no Ray worker has been ready for {NO_WORKER_TIMEOUT_S:.0f} s (the cluster lost its nodes or "
                    "cannot place a worker); finished items are kept: rerun the same command to resume"
                )
            timeout = WAIT_S
            if any(slot.ping is None and slot.unit is None for slot in self.slots):  # idle: wake for a backoff
                waits = [self.not_before[u] - now for u in self.queue if self.not_before.get(u, 0.0) > now]
                timeout = max(0.01, min([WAIT_S, *waits]))
            done = ray.wait(list(self.calls), num_returns=1, timeout=timeout)[0] if self.calls else []
            if not self.calls:
                time.sleep(timeout)
            for ref in done:
                self._finished(ref, *self.calls.pop(ref))
            if time.monotonic() - last_check >= WAIT_S:  # ray.wait never blocks on a lost node for long
                last_check = time.monotonic()
                self._check_nodes()

    def _hand_out(self) -> None:
        now = time.monotonic()
        for k, slot in enumerate(self.slots):
            if slot.ping is not None or slot.unit is not None:
                continue
            u = next((u for u in self.queue if self.not_before.get(u, 0.0) <= now), None)
            if u is None:
                return
            self.queue.remove(u)
            unit = self.units[u]
            slot.unit = u
            self.calls[slot.actor.evaluate.remote(unit, _driver_copy(unit) if self.ship else None)] = (k, False)

    def _finished(self, ref: Any, k: int, is_ping: bool) -> None:
        import ray

        slot = self.slots[k]
        if is_ping:
            try:
                slot.node = ray.get(ref)
                slot.ping = None
            except ray.exceptions.RayActorError as exc:
                if exc.actor_init_failed:  # a model that cannot load stops the run, as in local
                    raise RobustEvalError(_creation_error(exc)) from None
                self._replace(k)  # lost while starting (its node, a connection): start another
            return
        u = slot.unit
        if u is None:  # not this slot's unit any more (it was handed back): nothing to do
            return
        try:
            rows = ray.get(ref)
        except ray.exceptions.ActorUnavailableError:  # a connection error: the actor may well be alive
            slot.unit = None
            self._lost(u, charged=False)
            slot.ping = slot.actor.ready.remote()  # no more work for it before it answers
            self.calls[slot.ping] = (k, True)
            return
        except ray.exceptions.RayActorError as exc:  # its process (or its node) died
            self._replace(k)
            if _node_lost(exc, slot.node, _alive_nodes()):
                self._lost(u, charged=False)
            else:
                self._lost(u, charged=True, kind=type(exc).__name__)
            return
        except ray.exceptions.ObjectLostError:  # the rows were on a node that is gone
            slot.unit = None
            self._lost(u, charged=False)
            return
        slot.unit = None
        self.on_unit(len(self.units[u]), rows)

    def _lost(self, u: int, *, charged: bool, kind: str = "") -> None:
        """Send unit ``u`` back to the queue after a backoff, or fail its items: it killed its worker more than
        ``retries`` times, or was lost with nodes more than ``NODE_LOSSES_MAX`` times."""
        counts = self.losses.deaths if charged else self.losses.lost
        counts[u] += 1
        if charged and counts[u] > self.job.retries:
            reason = f"the worker process died on this unit {counts[u]} times ({kind})"
        elif not charged and counts[u] > NODE_LOSSES_MAX:
            reason = f"the unit was lost with its worker's node or connection {counts[u]} times"
        else:
            self.not_before[u] = time.monotonic() + self.losses.backoff_s(u)
            self.queue.insert(0, u)
            return
        self.on_unit(len(self.units[u]), failed_rows(self.units[u], self.models, self.job.plan.conditions, reason))

    def _replace(self, k: int) -> None:
        import ray

        old = self.slots[k]
        for ref in [r for r, (s, _) in self.calls.items() if s == k]:
            del self.calls[ref]
        ray.kill(old.actor)
        slot = self.new_slot()
        self.slots[k] = slot
        self.calls[slot.ping] = (k, True)

    def _check_nodes(self) -> None:
        """Workers on nodes that are gone: their units go back to the queue and their places to new actors."""
        alive = _alive_nodes()
        for k, slot in enumerate(self.slots):
            if slot.node and slot.node not in alive:
                u = slot.unit
                self._replace(k)
                if u is not None:
                    self._lost(u, charged=False)


ENGINES.add("ray", RayEngine)
