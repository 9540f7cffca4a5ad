"""Shared by the engine tests: the smoke protocol's job, running an engine and collecting its rows in plan order,
the rows without their timings, and a manifest of constant-valued cases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from robusteval.data.sources import list_cases
from robusteval.engine import ENGINES, TIMING_COLUMNS, EngineJob, ModelSpecLite, make_plan
from robusteval.metrics import MetricConfig
from robusteval.protocol import load_protocol

PROTOCOLS = Path(__file__).resolve().parents[1] / "protocols"


def smoke_job(cache: Path, device: str, workers: int | None) -> EngineJob:
    """The job of protocols/smoke.yaml (its data generated into ``cache``), metrics DSC and HD95."""
    protocol = load_protocol(PROTOCOLS / "smoke.yaml")
    return EngineJob(
        plan=make_plan(protocol, list_cases(protocol.dataset, cache)),
        models=[ModelSpecLite(m.name, m.family, m.adapter, dict(m.params)) for m in protocol.models],
        base_dir=PROTOCOLS,
        metrics=["dsc", "hd95"],
        metric_config=MetricConfig(),
        device=device,
        workers=workers,
    )


def collect_rows(
    engine: str, job: EngineJob, on_unit: Callable[[list[dict[str, Any]]], None] | None = None
) -> list[dict[str, Any]]:
    """Every row ``engine`` delivers for ``job`` (``on_unit`` sees each unit's rows as they come), in plan order."""
    rows: list[dict[str, Any]] = []

    def collect(n: int, unit_rows: list[dict[str, Any]]) -> None:
        rows.extend(unit_rows)
        if on_unit is not None:
            on_unit(unit_rows)

    ENGINES.get(engine)().run(job, collect)
    order = {(i.record.case_id, i.condition, i.severity): k for k, i in enumerate(job.plan.items)}
    return sorted(rows, key=lambda r: (order[(r["case_id"], r["shift"], r["severity"])], r["model"]))


def results(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows without their timing columns (what must agree between engines and runs)."""
    return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows]


def constant_cases(folder: Path, levels: dict[str, float]) -> None:
    """``folder/manifest.csv`` and NIfTIs: per case id, 24³ FLAIR = T1 = its level, a 4³ lesion in the middle."""
    import nibabel as nib
    import numpy as np

    rows = ["case_id,subject_id,site,scanner,partition,flair,t1,label"]
    for cid, level in levels.items():
        img = np.full((24, 24, 24), level, np.float32)
        lab = np.zeros((24, 24, 24), np.uint8)
        lab[10:14, 10:14, 10:14] = 1
        for name, arr in (("flair", img), ("t1", img), ("label", lab)):
            nib.save(nib.Nifti1Image(arr, np.eye(4)), folder / f"{cid}_{name}.nii.gz")
        rows.append(f"{cid},{cid},A,s,test,{cid}_flair.nii.gz,{cid}_t1.nii.gz,{cid}_label.nii.gz")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
