"""GPU busy fraction of the ``ray`` engine (issue 7: goal >= 85 % on ``protocols/ood-full.yaml`` at 1 mm).

Runs only where torch sees a CUDA GPU and ``nvidia-smi`` exists; elsewhere it returns no row. ``nvidia-smi``
samples GPU 0 every 100 ms while the engine runs (data generation and planning excluded). Its
``utilization.gpu`` is the percent of the last sample period in which at least one kernel ran, so the mean of
the samples over the run is the busy fraction. The row reads: ours = engine wall time, peer = GPU busy time,
ratio = busy fraction.

Environment: ``ROBUSTEVAL_BENCH_GPU_PROTOCOL`` (default ``protocols/ood-full.yaml``), ``ROBUSTEVAL_BENCH_GPU_ITEMS``
(evaluate only the first N work items, to fit a time budget; default all), ``ROBUSTEVAL_BENCH_GPU_ENGINE``
(``ray``, the default, or ``local``: one process, for a machine without Ray).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from benchmarks.common import BenchRow
from robusteval.data.sources import list_cases
from robusteval.engine import ENGINES, EngineJob, make_plan
from robusteval.paths import default_cache_dir
from robusteval.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_MS = 100


class GpuSampler:
    """``with GpuSampler() as s: ...`` then ``s.busy_fraction``: mean ``utilization.gpu`` / 100 while inside."""

    def __init__(self, command: Sequence[str] = ("nvidia-smi",), gpu: int = 0) -> None:
        self.argv = [
            *command,
            "--query-gpu=utilization.gpu",
            "--format=csv,noheader,nounits",
            f"--loop-ms={SAMPLE_MS}",
            f"--id={gpu}",
        ]
        self.samples: list[float] = []
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            text = line.strip()
            if text.replace(".", "", 1).isdigit():
                self.samples.append(float(text))

    def __enter__(self) -> GpuSampler:
        self._proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        assert self._proc is not None
        assert self._reader is not None
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._reader.join(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    @property
    def busy_fraction(self) -> float:
        """Mean utilization as a fraction in [0, 1]; NaN without samples."""
        return sum(self.samples) / (100.0 * len(self.samples)) if self.samples else float("nan")


def run() -> list[BenchRow]:
    import torch

    if not torch.cuda.is_available() or shutil.which("nvidia-smi") is None:
        print("bench_gpu: no CUDA GPU with nvidia-smi here; the GPU busy fraction is not measured")
        return []
    engine = os.environ.get("ROBUSTEVAL_BENCH_GPU_ENGINE", "ray")
    path = Path(os.environ.get("ROBUSTEVAL_BENCH_GPU_PROTOCOL", ROOT / "protocols" / "ood-full.yaml"))
    protocol = load_protocol(path)
    plan = make_plan(protocol, list_cases(protocol.dataset, default_cache_dir()))
    limit = int(os.environ.get("ROBUSTEVAL_BENCH_GPU_ITEMS", len(plan.items)))
    job = EngineJob.from_protocol(protocol, dataclasses.replace(plan, items=plan.items[:limit]), path)
    with GpuSampler() as sampler:
        t0 = time.perf_counter()
        ENGINES.get(engine)().run(job, lambda n, rows: None)
        wall = time.perf_counter() - t0
    gpu = torch.cuda.get_device_name(0)
    name = f"engine {engine}: GPU busy vs wall ({path.name}, {len(job.plan.items)} items, {gpu})"
    return [BenchRow(name, wall, "GPU busy time", sampler.busy_fraction * wall, "ratio >= 0.85")]
