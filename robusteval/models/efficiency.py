"""Efficiency profile of a model on one case: parameters, FLOPs, latency, peak memory, energy and CO2.

Every quantity comes with ``<key>_method``: how it was obtained, or ``not measured: <reason>`` with the value
None. Conventions: FLOPs as counted by ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add is 2
FLOPs; only matmul / convolution / attention kernels are counted, not norms, activations or blending); times
in seconds; memory in MiB (2**20 bytes); energy in joules; emissions in grams CO2-equivalent. Latency and
memory include everything :meth:`ModelAdapter.predict` does (normalization, resampling, sliding window,
TTA, thresholding) on the adapter's device.
"""

from __future__ import annotations

__all__ = ["count_flops", "peak_memory_mib", "profile_model"]

import contextlib
import ctypes
import ctypes.util
import logging
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from robusteval.data.case import Case
from robusteval.models.base import ModelAdapter, TorchSegmenter
from robusteval.models.energy import (
    DEFAULT_CPU_TDP_PER_CORE_W,
    J_PER_KWH,
    EnergyMeter,
    co2_g,
    per_thousand,
    with_method_keys,
)

MIB = float(2**20)
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def count_flops(network: torch.nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward of ``network`` on ``x`` (FlopCounterMode: a multiply-add counts 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        network(x)
    return int(counter.get_total_flops())


def _status_kib(key: str) -> int:
    match = re.search(rf"^{key}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise OSError(f"no {key} in {_STATUS}")
    return int(match.group(1))


def _malloc_trim() -> str:
    """Return free heap memory to the OS (glibc only); a note for the method, empty when not done."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        return ""
    return "; free heap trimmed first with malloc_trim"


@contextlib.contextmanager
def _rss_peak(result: dict[str, Any]) -> Iterator[None]:
    """Peak process RSS above the RSS at entry, in ``result['mib']`` with ``result['method']``.

    Free heap pages are first returned to the OS (glibc ``malloc_trim``), else memory reused from an earlier
    run would not show. Linux: reset the high-water mark (``5`` into /proc/self/clear_refs), read VmHWM after.
    Else psutil RSS sampled every 2 ms by a thread (may miss sub-2 ms peaks). Else nothing."""
    trimmed = _malloc_trim()
    try:
        before = _status_kib("VmRSS")
        _CLEAR_REFS.write_text("5")
        if _status_kib("VmHWM") > before + 1024:  # the reset did not take
            raise OSError("VmHWM reset refused")
    except OSError:
        pass
    else:
        yield
        result["mib"] = (_status_kib("VmHWM") - before) * 1024 / MIB
        result["method"] = f"process peak RSS − RSS before (Linux VmHWM, reset via /proc/self/clear_refs{trimmed})"
        return
    try:
        import psutil  # type: ignore[import-untyped,import-not-found]
    except ImportError:
        yield
        result["method"] = "not measured: no /proc/self/clear_refs (Linux) and psutil is not installed"
        return
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], proc.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    result["mib"] = (peak[0] - base) / MIB
    result["method"] = f"process peak RSS − RSS before (psutil, sampled every 2 ms{trimmed})"


def peak_memory_mib(fn: Callable[[], object], device: torch.device) -> tuple[float | None, str]:
    """Peak memory (MiB) that running ``fn`` adds, and how it was measured.

    CUDA: ``torch.cuda.max_memory_allocated`` − allocated before (tensors through PyTorch's allocator; not the
    CUDA context nor the allocator's cache). CPU: the process's peak resident set size − RSS before."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        used = (torch.cuda.max_memory_allocated(device) - before) / MIB
        return used, f"torch.cuda.max_memory_allocated − allocated before, on {device}"
    result: dict[str, Any] = {}
    with _rss_peak(result):
        fn()
    return result.get("mib"), str(result["method"])


def _windows(adapter: TorchSegmenter, case: Case) -> int:
    """How many windows MONAI's sliding window runs on this case's working grid (counted, not derived)."""
    from monai.inferers.utils import sliding_window_inference

    s = adapter.settings
    calls = [0]

    def probe(x: torch.Tensor) -> torch.Tensor:
        calls[0] += x.shape[0]
        return x[:, :1]

    grid = torch.zeros((1, 1, *adapter.working_shape(case)))
    with torch.inference_mode():
        sliding_window_inference(grid, s.roi_size, 1, probe, overlap=s.overlap, mode="constant")
    return calls[0]


def _codecarbon(
    run: Callable[[], object], repeats: int, country_iso_code: str, gco2_per_kwh: float | None
) -> tuple[dict[str, Any] | None, str]:
    """codecarbon's offline tracker around ``repeats`` runs: (the energy fields, '') or (None, why not)."""
    try:
        from importlib.metadata import version

        from codecarbon import OfflineEmissionsTracker
    except Exception as exc:
        return None, f"codecarbon unavailable ({type(exc).__name__}: {exc})"
    logger = logging.getLogger("codecarbon")
    level = logger.level
    logger.setLevel(logging.ERROR)  # its init messages come before log_level applies
    try:
        tracker = OfflineEmissionsTracker(
            country_iso_code=country_iso_code, output_methods=[], log_level="error", tracking_mode="process",
            allow_multiple_runs=True, measure_power_secs=1,
        )  # fmt: skip
        tracker.start()
    except Exception as exc:  # any failure of the optional tracker: reported, never fatal
        logger.setLevel(level)
        return None, f"codecarbon failed to start ({type(exc).__name__}: {exc})"
    try:
        for _ in range(repeats):
            run()
    finally:
        emissions_kg = tracker.stop()
        logger.setLevel(level)
    data = getattr(tracker, "final_emissions_data", None)
    if emissions_kg is None or data is None:
        return None, "codecarbon returned no measurement (see its log)"
    hardware = ", ".join(getattr(tracker, "_conf", {}).get("hardware", [])) or "unknown hardware"
    joules = float(data.energy_consumed) * J_PER_KWH / repeats
    grams = float(emissions_kg) * 1e3 / repeats
    grid = f"its grid for {country_iso_code}"
    if gco2_per_kwh is not None:
        grams = co2_g(joules, gco2_per_kwh)
        grid = f"{gco2_per_kwh:g} gCO2eq/kWh (protocol report.energy_grid_gco2_per_kwh)"
    kwh, g1000 = per_thousand(joules, grams)
    method = (
        f"codecarbon {version('codecarbon')} OfflineEmissionsTracker(country_iso_code={country_iso_code!r}, "
        f"tracking_mode='process'), mean of {repeats} predict() calls; {hardware}; grid {grid}. Measured "
        "where the CPU is read through RAPL and the GPU through NVML, else codecarbon's own estimate"
    )
    return {
        "energy_j": joules, "co2_g": grams, "energy_kwh_per_1000": kwh, "co2_g_per_1000": g1000,
        "energy_method": method,
    }, ""  # fmt: skip


def profile_model(
    adapter: ModelAdapter,
    case: Case,
    *,
    repeats: int = 3,
    warmup: int = 1,
    country_iso_code: str | None = None,
    grid_gco2_per_kwh: float | None = None,
    cpu_tdp_per_core_w: float | None = None,
    rapl_root: Path | None = None,
) -> dict[str, Any]:
    """Efficiency facts of ``adapter`` on ``case`` (see the module docstring for units and conventions).

    Keys (each with ``<key>_method``): ``parameters``; ``flops`` (one forward at the ROI size);
    ``flops_per_case`` (× sliding windows × TTA passes); ``latency_s`` (median of ``repeats`` predict() calls
    after ``warmup`` untimed ones; the runs are in ``latency_runs_s``); ``peak_memory_mib`` (one predict());
    ``energy_j`` and ``co2_g`` per case, ``energy_kwh_per_1000`` and ``co2_g_per_1000`` per 1,000 cases
    (:mod:`robusteval.models.energy`: codecarbon when installed and ``country_iso_code`` (ISO 3166 alpha-3)
    is given, else RAPL / NVML counters read around the timed calls, else the declared power model on the
    measured latency; CO2 on ``grid_gco2_per_kwh``, else the country's grid, else the world-average default).
    An adapter with ``not_profiled`` set (the human baseline) gets every value None, the reason as the method.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    core = adapter.segmenter()
    out: dict[str, Any] = {"model": adapter.name, "adapter": type(core).__name__}
    if core.not_profiled:
        reason = f"not applicable: {core.not_profiled}"
        for key in (
            "parameters",
            "flops",
            "flops_per_case",
            "latency_s",
            "peak_memory_mib",
            "energy_j",
            "co2_g",
            "energy_kwh_per_1000",
            "co2_g_per_1000",
        ):
            out[key] = None
            out["latency_method" if key == "latency_s" else f"{key}_method"] = reason
        return out
    if isinstance(core, TorchSegmenter):
        device = core.torch_device
        s = core.settings
        roi = (1, len(s.modalities), *s.roi_size)
        out["device"] = str(device)
        out["parameters"] = int(sum(p.numel() for p in core.network.parameters()))
        out["parameters_method"] = "sum of numel() over network.parameters() (trainable or not)"
        out["flops"] = count_flops(core.network, torch.zeros(roi, device=device))
        out["flops_method"] = f"torch.utils.flop_counter.FlopCounterMode, one forward at roi {roi} (multiply-add = 2)"
        windows, passes = _windows(core, case), 4 if s.tta_flips else 1
        out["flops_per_case"] = out["flops"] * windows * passes
        out["flops_per_case_method"] = (
            f"flops × {windows} sliding windows (overlap {s.overlap}) on the working grid "
            f"{core.working_shape(case)} × {passes} TTA pass(es)"
        )
    else:
        device = torch.device("cpu")
        out["device"] = "cpu"
        network = getattr(core, "network", None)  # a network run by its own predictor (nnU-Net)
        reason = (
            f"not measured: {type(core).__name__} runs its network through its own predictor"
            if isinstance(network, torch.nn.Module)
            else f"not applicable: {type(core).__name__} runs no network here"
        )
        for key in ("parameters", "flops", "flops_per_case"):
            out[key], out[f"{key}_method"] = None, reason
        if isinstance(network, torch.nn.Module):
            out["parameters"] = int(sum(p.numel() for p in network.parameters()))
            out["parameters_method"] = "sum of numel() over network.parameters() (trainable or not)"

    def run() -> None:
        adapter.predict(case)

    for _ in range(warmup):
        run()
    meter = EnergyMeter(
        device=device, cores=max(1, torch.get_num_threads()), country_iso=country_iso_code,
        gco2_per_kwh=grid_gco2_per_kwh, rapl_root=rapl_root,
        tdp_per_core_w=DEFAULT_CPU_TDP_PER_CORE_W if cpu_tdp_per_core_w is None else cpu_tdp_per_core_w,
    )  # fmt: skip
    runs = []
    meter.start()
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        runs.append(time.perf_counter() - t0)
    metered = meter.stop(repeats, statistics.median(runs))
    out["latency_s"] = statistics.median(runs)
    out["latency_runs_s"] = runs
    out["latency_method"] = (
        f"median wall time of {repeats} predict() calls after {warmup} warm-up, case {case.case_id} "
        f"{case.shape} on {device} (time.perf_counter; predict returns host arrays, so GPU work is included)"
    )
    out["peak_memory_mib"], out["peak_memory_mib_method"] = peak_memory_mib(run, device)
    energy, why_not = _codecarbon(run, repeats, country_iso_code, grid_gco2_per_kwh) if country_iso_code else (None, "")
    if energy is None:
        energy = metered
        if why_not:
            energy["energy_method"] = f"{energy['energy_method']} ({why_not})"
    out.update(with_method_keys(energy))
    return out
