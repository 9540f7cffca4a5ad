"""Engines: planning, and `local` and `ray` giving identical rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from robusteval.data.sources import list_cases
from robusteval.engine import ENGINES, EngineJob, ModelSpecLite, make_plan
from robusteval.metrics import MetricConfig
from robusteval.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> EngineJob:
    protocol = load_protocol(ROOT / "protocols" / "smoke.yaml")
    records = list_cases(protocol.dataset, tmp_path_factory.mktemp("cache"))
    return EngineJob(
        plan=make_plan(protocol, records),
        models=[ModelSpecLite(m.name, m.family, m.adapter, dict(m.params)) for m in protocol.models],
        base_dir=ROOT / "protocols",
        metrics=["dsc", "hd95"],
        metric_config=MetricConfig(),
        device="cpu",
        workers=2,
    )


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


def test_local_and_ray_give_identical_rows(job: EngineJob) -> None:
    def strip(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k != "inference_s"} for r in rows]

    def collect(engine: str) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        ENGINES.get(engine)().run(job, lambda n, r: rows.extend(r))
        order = {(i.record.case_id, i.condition, i.severity): k for k, i in enumerate(job.plan.items)}
        return sorted(rows, key=lambda r: (order[(r["case_id"], r["shift"], r["severity"])], r["model"]))  # type: ignore[index]

    local = collect("local")
    ray_rows = collect("ray")
    assert len(local) == len(job.plan.items) == 8
    assert strip(local) == strip(ray_rows)
    assert all(r["status"] == "ok" for r in local)
