"""Benchmark helpers that can be checked without the hardware they measure."""

from __future__ import annotations

import math
import time
from pathlib import Path

from benchmarks.bench_gpu import GpuSampler


def test_gpu_sampler_averages_nvidia_smi_utilization(tmp_path: Path) -> None:
    fake = tmp_path / "nvidia-smi"  # prints what `nvidia-smi --query-gpu=utilization.gpu ... --loop-ms` prints
    fake.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/argv"\nprintf "0\\n50\\n100\\n30\\n"\nexec sleep 60\n')
    fake.chmod(0o755)
    with GpuSampler(command=[str(fake)], gpu=1) as sampler:
        deadline = time.monotonic() + 20
        while len(sampler.samples) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert sampler.samples == [0.0, 50.0, 100.0, 30.0]
    assert math.isclose(sampler.busy_fraction, 0.45)
    argv = (tmp_path / "argv").read_text().split()
    assert argv == ["--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "--loop-ms=100", "--id=1"]


def test_gpu_sampler_without_samples_is_nan(tmp_path: Path) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'No devices were found'\n")
    fake.chmod(0o755)
    with GpuSampler(command=[str(fake)]) as sampler:
        time.sleep(0.2)
    assert math.isnan(sampler.busy_fraction)
