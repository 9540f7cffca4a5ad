"""The ``ray`` engine on a Ray cluster of several nodes (``ray.cluster_utils.Cluster``, all on this machine):
work lands on every node, the rows equal the local engine's, and a node lost mid-run costs nothing."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from robusteval.engine import EngineJob, ray_engine
from tests.engine_rows import collect_rows, results, smoke_job


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> EngineJob:
    return smoke_job(tmp_path_factory.mktemp("cache"), device="cpu", workers=2)


@pytest.fixture(scope="module")
def local_rows(job: EngineJob) -> list[dict[str, Any]]:
    return collect_rows("local", job)


@pytest.fixture
def cluster() -> Iterator[Any]:
    """A head with no CPU (it schedules, runs no worker) and two worker nodes of one CPU each: the two actors
    of a run can only be on different nodes."""
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        pytest.skip("a Ray of this session is running")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


def _pid(row: dict[str, Any]) -> int:
    return int(str(row["worker"]).split(":")[1])


def test_a_cluster_of_two_nodes_gets_work_on_both_and_the_local_rows(
    job: EngineJob, local_rows: list[dict[str, Any]], cluster: Any
) -> None:
    rows = collect_rows("ray", dataclasses.replace(job, address=cluster.address))
    assert len(rows) == len(job.plan.items) == 8
    assert all(r["status"] == "ok" for r in rows)
    assert results(rows) == results(local_rows)
    assert len({_pid(r) for r in rows}) == 2  # two workers, one per node (one CPU each, none on the head)


@pytest.mark.parametrize("node_joins", [False, True], ids=["no-spare-node", "a-node-joins"])
def test_a_node_removed_mid_run_loses_no_row(
    node_joins: bool,
    job: EngineJob,
    local_rows: list[dict[str, Any]],
    cluster: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The node of a busy worker goes away once both workers have delivered: its unit is lost, not charged to it,
    and runs again on the surviving worker, or on the replacement actor once a new node gives it room (it gets
    no work before it is ready); every row is computed and equals the local run's, in bounded time."""
    import psutil
    from ray._private import ray_constants

    lost: list[bool] = []
    real_lost = ray_engine._Schedule._lost

    def record(self: Any, u: int, *, charged: bool, kind: str = "") -> None:
        lost.append(charged)
        real_lost(self, u, charged=charged, kind=kind)

    monkeypatch.setattr(ray_engine._Schedule, "_lost", record)

    removed: list[float] = []
    raylets = {n.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid: n for n in cluster.worker_nodes}

    seen: set[int] = set()

    def remove_a_busy_node(unit_rows: list[dict[str, Any]]) -> None:
        seen.add(_pid(unit_rows[0]))
        if removed or len(seen) < 2:  # both workers ready: the other one now holds a unit
            return
        idle = psutil.Process(_pid(unit_rows[0])).ppid()  # a worker is a child of its node's raylet
        (busy,) = [node for raylet, node in raylets.items() if raylet != idle]
        removed.append(time.monotonic())
        cluster.remove_node(busy, allow_graceful=node_joins)  # without a new node: killed, not drained
        if node_joins:
            cluster.add_node(num_cpus=1)

    t0 = time.monotonic()
    rows = collect_rows("ray", dataclasses.replace(job, address=cluster.address), remove_a_busy_node)
    elapsed = time.monotonic() - t0
    assert removed
    assert len(rows) == 8
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows if r["status"] != "ok"]
    assert results(rows) == results(local_rows)
    assert lost == [False]  # the busy unit was lost with its node, once, and not counted against it
    assert elapsed < 120, elapsed
    print(f"run {elapsed:.1f} s, {time.monotonic() - removed[0]:.1f} s after the node was removed")
