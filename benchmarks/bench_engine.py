"""Engine benchmarks: overhead against the pure work, and 2 Ray workers against 1 (same items)."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BenchRow
from robusteval.data.sources import list_cases
from robusteval.engine import ENGINES, EngineJob, make_plan
from robusteval.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[1]


def _job(cache: Path) -> EngineJob:
    path = ROOT / "benchmarks" / "engine.yaml"
    protocol = load_protocol(path)
    return EngineJob.from_protocol(protocol, make_plan(protocol, list_cases(protocol.dataset, cache)), path)


def _timed(engine: str, job: EngineJob) -> tuple[float, list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    ENGINES.get(engine)().run(job, lambda n, r: rows.extend(r))
    return time.perf_counter() - t0, rows


def run() -> list[BenchRow]:
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        job = _job(Path(tmp))
        wall, rows = _timed("local", job)
        # pure work: each item's shift once + each model's inference (metrics and loading are the overhead)
        shift = sum({(r["case_id"], r["shift"], r["severity"]): r["shift_s"] for r in rows}.values())
        pure = shift + sum(r["inference_s"] for r in rows)
        out = [
            BenchRow(
                "engine local: wall vs pure shift+inference",
                wall,
                "pure work sum",
                pure,
                "ratio >= 0.77 (wall <= 1.3x pure)",
            )
        ]
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            one, _ = _timed("ray", dataclasses.replace(job, workers=1))
            two, _ = _timed("ray", dataclasses.replace(job, workers=2))
        finally:
            ray.shutdown()
        out.append(BenchRow("engine ray: 2 workers vs 1 (2 cores)", two, "1 worker", one, "ratio >= 1.7"))
    return out
