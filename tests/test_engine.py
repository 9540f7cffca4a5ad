"""Engines: planning, and `local` and `ray` giving identical rows."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from robusteval.data.sources import list_cases
from robusteval.engine import ENGINES, EngineJob, ModelSpecLite, make_plan, ray_engine, store
from robusteval.engine.ray_engine import gpu_share, ray_address, worker_count
from robusteval.engine.store import item_keys, pending_items
from robusteval.errors import RobustEvalError
from robusteval.protocol import load_protocol
from robusteval.protocol.schema import Protocol
from tests.engine_rows import collect_rows, constant_cases, results, smoke_job

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> EngineJob:
    # device auto: the CPU here (on the fake GPUs Ray still assigns distinct ids); workers: as many as the
    # cluster holds, one per (fake) GPU
    return smoke_job(tmp_path_factory.mktemp("cache"), device="auto", workers=None)


def test_plan_pairs_every_shifted_item_with_its_clean_twin(job: EngineJob) -> None:
    items = job.plan.items
    assert [(i.record.case_id, i.condition, i.severity) for i in items[:3]] == [
        ("A-test-000", "clean", 0),
        ("A-test-000", "bias_field", 1),
        ("A-test-000", "bias_field", 5),
    ]
    shifted = [i for i in items if i.condition != "clean"]
    clean_ids = {i.record.case_id for i in items if i.condition == "clean"}
    assert {i.record.case_id for i in shifted} <= clean_ids
    assert all(i.case_split == "id" for i in shifted)  # simulated shifts apply to ID cases by default
    assert len({i.seed for i in shifted}) == len(shifted)  # an independent, recorded seed per item


def test_units_cut_heavy_cases_and_keep_label_only_items_with_their_clean_item(tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "protocols" / "smoke.yaml").read_text())
    spec["dataset"]["params"]["test_subjects"] = 3
    spec["shifts"] = [
        {"shift": "bias_field", "severities": [1, 2, 3, 4, 5]},
        {"shift": "label_dilate", "severities": [1, 3]},
        {"shift": "blur", "severities": [2, 4]},
    ]
    protocol = Protocol.model_validate(spec)
    plan = make_plan(protocol, list_cases(protocol.dataset, tmp_path))
    assert len(plan.items) == 3 * (1 + 5 + 2 + 2) + 3  # 3 ID cases with every condition, 3 OOD cases clean

    def key(i: Any) -> tuple[str, str, int]:
        return (i.record.case_id, i.condition, i.severity)

    assert [sorted(key(i) for i in u) for u in plan.units(1, per_worker=1)] == [
        sorted(key(i) for i in items) for items in plan.by_case().values()
    ]  # one unit per case
    units = plan.units(2)  # 33 items for 2 workers x 8 units: runs of at most 3 items besides free riders
    size = math.ceil(33 / 16)
    assert size == 3
    assert sorted(key(i) for u in units for i in u) == sorted(key(i) for i in plan.items)  # each item once
    for unit in units:
        assert len({i.record.case_id for i in unit}) == 1
        label_only = [i for i in unit if i.condition == "label_dilate"]
        assert len(unit) - len(label_only) <= size
        if label_only:  # they reuse the clean prediction: in the clean item's unit, after it
            assert unit[0].condition == "clean"
            assert len(label_only) == 2
    costs = [sum(i.condition != "label_dilate" for i in u) for u in units]
    assert costs == sorted(costs, reverse=True)  # largest first, so the run ends on small units
    assert len(units) == 3 * math.ceil(8 / size) + 3


def test_worker_count_follows_the_cluster_unless_set(job: EngineJob) -> None:
    gib = 1024**3
    auto = dataclasses.replace(job, workers=None, threads=1, gpus_per_worker=None, device="auto")
    assert gpu_share(auto, 4) == 1.0
    assert gpu_share(auto, 0) == gpu_share(dataclasses.replace(auto, device="cpu"), 4) == 0.0
    assert gpu_share(dataclasses.replace(auto, workers=4), 1) == 0.25  # 4 workers share one GPU
    assert gpu_share(dataclasses.replace(auto, gpus_per_worker=0.5), 2) == 0.5

    assert worker_count(auto, {"CPU": 16, "GPU": 4, "memory": 100 * gib}, 1.0) == 4  # one per GPU
    assert worker_count(auto, {"CPU": 16, "GPU": 2}, 0.5) == 4  # two replicas per GPU
    assert worker_count(auto, {"CPU": 3, "GPU": 2}, 0.5) == 3  # ... as far as the CPUs go
    assert worker_count(auto, {"CPU": 8, "memory": 100 * gib}, 0.0) == 8  # one per CPU
    assert worker_count(dataclasses.replace(auto, threads=2), {"CPU": 8}, 0.0) == 4
    assert worker_count(auto, {"CPU": 64, "memory": 16 * gib}, 0.0) == 8  # 2 GiB each: memory caps
    assert worker_count(auto, {"CPU": 1, "memory": 1 * gib}, 0.0) == 1  # never fewer than one
    assert worker_count(dataclasses.replace(auto, workers=3), {"CPU": 64, "GPU": 8}, 1.0) == 3
    with pytest.warns(RuntimeWarning, match="4 workers do not fit the Ray cluster at once; using 2"):
        assert worker_count(dataclasses.replace(auto, workers=4, threads=2), {"CPU": 4}, 0.0) == 2
    with pytest.raises(RobustEvalError, match="one worker needs 4 CPU"):
        worker_count(dataclasses.replace(auto, threads=4), {"CPU": 2}, 0.0)


def test_resume_skips_exactly_the_finished_items(job: EngineJob, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = item_keys(job)
    items = job.plan.items
    done = {keys[(*i.key, m.name)]: {} for i in items[::2] for m in job.models}  # every other item finished
    assert [i.key for i in pending_items(job, keys, done)] == [i.key for i in items[1::2]]
    assert pending_items(job, keys, {k: {} for k in keys.values()}) == []
    monkeypatch.setattr(store, "__version__", "999.0")  # rows of another robusteval version are not reused
    assert not set(item_keys(job).values()) & set(keys.values())


def test_without_an_address_ray_starts_its_own_even_beside_a_stale_cluster_file(
    job: EngineJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray
    import ray._private.utils

    if ray.is_initialized():
        pytest.skip("a Ray of this session is running")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # what `ray start` left behind in /tmp/ray/ray_current_cluster, the cluster long gone: attaching to it hangs
    monkeypatch.setattr(ray._private.utils, "read_ray_address", lambda temp_dir=None: "127.0.0.1:1")
    small = dataclasses.replace(job, plan=dataclasses.replace(job.plan, items=job.plan.items[:1]), workers=1)
    assert ray_address(small) == "local"
    assert len(collect_rows("ray", small)) == len(job.models)
    assert not ray.is_initialized()


def test_an_unreachable_address_fails_fast_with_what_to_do(job: EngineJob, monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    monkeypatch.setattr(ray_engine, "CONNECT_TIMEOUT_S", 1.0)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(RobustEvalError, match=r"cannot connect to the Ray cluster at 127\.0\.0\.1:1 .*ray start"):
        collect_rows("ray", job)
    assert time.monotonic() - t0 < 5
    assert not ray.is_initialized()


def test_a_torn_last_line_is_set_aside_and_the_next_row_starts_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    items = store.ItemStore(path)
    items.append(["a"], [{"v": 1}])
    items.append(["b"], [{"v": 2}])
    whole = path.read_bytes()
    path.write_bytes(whole[:-9])  # the disk filled up mid-write
    with pytest.warns(RuntimeWarning, match="last line was torn"):
        assert items.load() == {"a": {"v": 1}}
    assert (tmp_path / "items.jsonl.torn").read_bytes() == whole[whole.index(b"\n") + 1 : -9] + b"\n"
    items.append(["b"], [{"v": 2}])
    assert path.read_bytes() == whole
    with open(path, "ab") as f:
        f.write(b'{"keys": ["c"], "ro')  # torn again, and appended to without a load in between
    items.append(["d"], [{"v": 4}])
    with pytest.warns(RuntimeWarning, match="line 3 is not a stored unit"):
        assert items.load() == {"a": {"v": 1}, "b": {"v": 2}, "d": {"v": 4}}


@pytest.fixture(scope="module")
def ray_with_fake_gpus() -> Iterator[None]:
    """A local Ray with 2 CPUs and 2 fake GPUs (CI has no GPU; torch stays on the CPU)."""
    import ray

    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local_rows(job: EngineJob) -> list[dict[str, Any]]:
    return collect_rows("local", job)


def test_local_and_ray_give_identical_rows_on_distinct_fake_gpus(
    job: EngineJob, local_rows: list[dict[str, Any]], ray_with_fake_gpus: None
) -> None:
    local = local_rows
    ray_rows = collect_rows("ray", job)
    assert len(local) == len(job.plan.items) == 8
    assert all(r["status"] == "ok" for r in local)
    assert results(local) == results(ray_rows)
    workers = {str(r["worker"]) for r in ray_rows}
    assert len(workers) == 2, workers  # both model actors received work
    gpu_ids = {w.rsplit(":gpu", 1)[1] for w in workers}
    assert gpu_ids == {"0", "1"}  # each actor holds its own (fake) GPU


def _ray_worker_pids() -> set[int]:
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::_Worker"):
                pids.add(int(proc.name))
    return pids


def test_a_worker_killed_mid_run_is_restarted_and_the_run_completes(
    job: EngineJob, local_rows: list[dict[str, Any]], ray_with_fake_gpus: None
) -> None:
    killed: list[int] = []

    def kill_the_busy_worker(case_rows: list[dict[str, Any]]) -> None:
        if killed:
            return
        just_finished = int(str(case_rows[0]["worker"]).split(":")[1])
        busy = sorted(_ray_worker_pids() - {just_finished})
        assert busy, "no other worker process found"
        os.kill(busy[0], signal.SIGKILL)
        killed.append(busy[0])

    rows = collect_rows("ray", job, kill_the_busy_worker)
    assert killed
    assert len(rows) == 8
    assert all(r["status"] == "ok" for r in rows)  # the lost case was retried on a restarted actor
    assert results(rows) == results(local_rows)
    pids = {int(str(r["worker"]).split(":")[1]) for r in rows}
    assert killed[0] not in pids  # the killed process delivered nothing: its case ran again elsewhere
    # the surviving worker, and the replacement when it became ready before the survivor had done the rest (a
    # replacement gets work only once ready: on a slow start the survivor may finish alone)
    assert 1 <= len(pids) <= 2


CRASHING_NET = """
import os

import torch


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv3d(2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.max()) > 500:  # the 'bad' case: its process dies, as in a segfault or an out-of-memory kill
            os._exit(1)
        return self.conv(x)


def build() -> Net:
    return Net()
"""


def test_a_unit_that_kills_its_worker_every_time_fails_with_a_reason_and_the_run_goes_on(
    tmp_path: Path, ray_with_fake_gpus: None
) -> None:

    constant_cases(tmp_path, {"good": 1.0, "bad": 1000.0})
    (tmp_path / "crashnet.py").write_text(CRASHING_NET)
    (tmp_path / "p.yaml").write_text(
        "name: crash\ndataset:\n  source: manifest\n  path: manifest.csv\n"
        "  split:\n    in_distribution: {site: [A]}\n"
        "models:\n  - {name: net, family: cnn, adapter: python, params: {function: 'crashnet:build', "
        "normalization: none, roi_size: [32, 32, 32], amp: false}}\n"
        "metrics: {panel: [dsc]}\nexecution: {engine: ray, device: cpu, workers: 2, retries: 1}\n"
    )
    protocol = load_protocol(tmp_path / "p.yaml")
    job = EngineJob.from_protocol(
        protocol, make_plan(protocol, list_cases(protocol.dataset, tmp_path)), tmp_path / "p.yaml"
    )
    got = {r["case_id"]: r for r in collect_rows("ray", job)}
    assert got["good"]["status"] == "ok"
    assert got["bad"]["status"] == "failed"
    assert got["bad"]["error"] == "the worker process died on this unit 2 times (ActorDiedError)"


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_a_model_that_cannot_load_stops_the_run_with_its_name_and_reason(
    engine: str, job: EngineJob, tmp_path: Path, ray_with_fake_gpus: None
) -> None:
    (tmp_path / "brokennet.py").write_text("def build():\n    raise ValueError('layer 3 does not exist')\n")
    broken = ModelSpecLite("broken", "cnn", "python", {"function": "brokennet:build"})
    bad = dataclasses.replace(job, models=[broken], base_dir=tmp_path, device="cpu")
    with pytest.raises(RobustEvalError) as info:
        ENGINES.get(engine)().run(bad, lambda n, rows: None)
    assert str(info.value) == "model broken: cannot be loaded: ValueError: layer 3 does not exist"


def _read_only_by(pid: int, loader: Callable[[], Any]) -> Any:
    if os.getpid() != pid:
        raise RuntimeError("a worker read the case files")
    return loader()


def test_cases_travel_through_the_object_store_when_asked(
    job: EngineJob, local_rows: list[dict[str, Any]], ray_with_fake_gpus: None
) -> None:
    """As on a cluster without shared storage: the workers never read case files, the driver sends the cases."""
    import ray.cloudpickle

    pid = os.getpid()
    items = [
        dataclasses.replace(
            i, record=dataclasses.replace(i.record, loader=partial(_read_only_by, pid, i.record.loader))
        )
        for i in job.plan.items
    ]
    driver_only = dataclasses.replace(job, plan=dataclasses.replace(job.plan, items=items), device="cpu")
    module = sys.modules[__name__]
    ray.cloudpickle.register_pickle_by_value(module)  # the workers cannot import this test module
    try:
        shipped = collect_rows("ray", dataclasses.replace(driver_only, ship_cases=True))
        unshipped = collect_rows("ray", dataclasses.replace(driver_only, ship_cases=False))  # the control
    finally:
        ray.cloudpickle.unregister_pickle_by_value(module)
    assert results(shipped) == results(local_rows)
    assert {r["status"] for r in unshipped} == {"failed"}
    assert all("a worker read the case files" in r["error"] for r in unshipped)
