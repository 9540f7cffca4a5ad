"""Energy and CO2 of a model's inference: measured where the hardware reports it, else estimated.

Order (the first that yields a number wins; the method string says which):

1. **codecarbon** (when installed and a ``country_iso_code`` is given): its ``OfflineEmissionsTracker``
   around the repeated predict() calls (see :func:`robusteval.models.efficiency.profile_model`).
2. **measured, RAPL / NVML**: the CPU package counters ``<POWERCAP_ROOT>/intel-rapl:N/energy_uj`` (when
   readable; whole-package energy, every process on the socket included) and, on a CUDA device with
   ``pynvml`` installed, ``nvmlDeviceGetTotalEnergyConsumption`` of that GPU. Read before and after the
   calls; the difference over the number of calls is the energy per case.
3. **estimated with a declared power model** (as Carbontracker, codecarbon and Green Algorithms do):
   ``power = TDP per core × cores used × CPU utilisation`` (+ a declared GPU board power on CUDA),
   ``energy = power × per-case latency``.

CO2-eq = energy (kWh) × grid carbon intensity (gCO2eq/kWh): the protocol's ``energy_grid_gco2_per_kwh``,
else codecarbon's figure for ``energy_country_iso`` (when installed), else
:data:`DEFAULT_GRID_INTENSITY_G_PER_KWH`. Units: joules, grams CO2-equivalent, kWh; per 1,000 cases is
per case × 1,000. No datacenter PUE is applied (PUE 1.0).
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_CPU_TDP_PER_CORE_W",
    "DEFAULT_GPU_POWER_W",
    "DEFAULT_GRID_INTENSITY_G_PER_KWH",
    "J_PER_KWH",
    "EnergyMeter",
    "co2_g",
    "estimate_energy_j",
    "grid_intensity",
    "per_thousand",
    "rapl_domains",
    "with_method_keys",
]

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

J_PER_KWH = 3.6e6

DEFAULT_GRID_INTENSITY_G_PER_KWH = 475.0
"""World-average grid carbon intensity, gCO2eq/kWh, used when the protocol names no grid: 475 g/kWh, the
IEA Global Energy & CO2 Status Report 2019 world average that codecarbon falls back to for an unknown
country (carbontracker likewise falls back to a fixed average). Override per protocol with
``report.energy_grid_gco2_per_kwh`` or ``report.energy_country_iso``."""

DEFAULT_CPU_TDP_PER_CORE_W = 10.0
"""Declared CPU power per busy core, watts, of the estimate (no RAPL counter readable): 10 W per core, a
round figure inside the range of per-core TDP of current CPUs (about 2-4 W/core for 64-128-core server
parts, 10-15 W/core for 8-16-core desktop and workstation parts). The model, TDP per core × cores ×
utilisation, is the one of Green Algorithms (Lannelongue, Grealey & Inouye 2021, Adv. Sci.) and
codecarbon's TDP fallback. Override with ``report.energy_cpu_tdp_per_core_w``."""

DEFAULT_GPU_POWER_W = 250.0
"""Declared GPU board power, watts, of the estimate on a CUDA device without NVML: 250 W, the board TDP
of an NVIDIA V100 PCIe / A100 PCIe 40 GB, taken at full utilisation during predict() (an upper bound)."""

POWERCAP_ROOT = Path("/sys/class/powercap")
"""Where the Linux powercap framework exposes Intel/AMD RAPL zones (tests point it at a fake tree)."""


def grid_intensity(country_iso: str | None, gco2_per_kwh: float | None) -> tuple[float, str]:
    """(gCO2eq/kWh, where the figure comes from): the explicit figure, else codecarbon's figure for the
    country (when installed), else :data:`DEFAULT_GRID_INTENSITY_G_PER_KWH`."""
    if gco2_per_kwh is not None:
        return float(gco2_per_kwh), f"{gco2_per_kwh:g} gCO2eq/kWh (protocol report.energy_grid_gco2_per_kwh)"
    default = (
        f"{DEFAULT_GRID_INTENSITY_G_PER_KWH:g} gCO2eq/kWh (default: world average, IEA 2019, as codecarbon's fallback)"
    )
    if country_iso is None:
        return DEFAULT_GRID_INTENSITY_G_PER_KWH, default
    try:
        from codecarbon.input import DataSource  # type: ignore[import-not-found,import-untyped,unused-ignore]

        mix = DataSource().get_global_energy_mix_data()[country_iso]
        value = float(mix["carbon_intensity"])
    except Exception as exc:  # codecarbon absent, or the country not in its table
        return DEFAULT_GRID_INTENSITY_G_PER_KWH, (
            f"{default}; country {country_iso} not looked up ({type(exc).__name__}: codecarbon's grid table "
            "is needed for a country)"
        )
    return value, f"{value:g} gCO2eq/kWh (codecarbon's global energy mix for {country_iso})"


def co2_g(energy_j: float, intensity_g_per_kwh: float) -> float:
    """Grams CO2eq of ``energy_j`` joules on a grid of ``intensity_g_per_kwh``."""
    return energy_j / J_PER_KWH * intensity_g_per_kwh


def per_thousand(energy_j: float | None, co2: float | None) -> tuple[float | None, float | None]:
    """(kWh per 1,000 cases, g CO2eq per 1,000 cases) from the per-case joules and grams."""
    kwh = None if energy_j is None else energy_j * 1000 / J_PER_KWH
    grams = None if co2 is None else co2 * 1000
    return kwh, grams


def estimate_energy_j(
    latency_s: float,
    cores: int,
    utilisation: float,
    tdp_per_core_w: float = DEFAULT_CPU_TDP_PER_CORE_W,
    gpu_power_w: float = 0.0,
) -> float:
    """Joules per case of the power model: (TDP per core × cores × utilisation + GPU power) × latency."""
    if latency_s < 0 or cores < 1 or not 0 <= utilisation <= 1:
        raise ValueError(f"latency >= 0, cores >= 1, utilisation in 0..1; got {latency_s}, {cores}, {utilisation}")
    return (tdp_per_core_w * cores * utilisation + gpu_power_w) * latency_s


def rapl_domains(root: Path | None = None) -> list[Path]:
    """The top-level RAPL package zones' ``energy_uj`` files that can be read (sub-zones such as
    ``intel-rapl:0:0`` are inside their package and left out, else they would count twice)."""
    base = root if root is not None else POWERCAP_ROOT
    out = []
    for zone in sorted(base.glob("intel-rapl:*")):
        if zone.name.count(":") != 1:
            continue
        f = zone / "energy_uj"
        try:
            int(f.read_text().strip())
        except (OSError, ValueError):
            continue
        out.append(f)
    return out


def _read_uj(f: Path) -> int:
    return int(f.read_text().strip())


def _max_uj(f: Path) -> int | None:
    try:
        return int((f.parent / "max_energy_range_uj").read_text().strip())
    except (OSError, ValueError):
        return None


def _nvml_handle(device: Any) -> tuple[Any, Any] | None:
    """(pynvml module, handle of ``device``'s GPU) when pynvml is installed and the GPU counts energy."""
    if getattr(device, "type", None) != "cuda":
        return None
    try:
        import pynvml  # type: ignore[import-not-found,import-untyped,unused-ignore]

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(int(device.index or 0))
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception:
        return None
    return pynvml, handle


@dataclass
class EnergyMeter:
    """Measure (RAPL / NVML) or estimate the energy of ``calls`` predict() calls, then report per case.

    ``start()`` before the calls, ``stop(calls, latency_s)`` after: the fields of the profile
    (``energy_j``, ``co2_g``, ``energy_kwh_per_1000``, ``co2_g_per_1000`` and ``energy_method``)."""

    device: Any = None
    cores: int = 1
    tdp_per_core_w: float = DEFAULT_CPU_TDP_PER_CORE_W
    gpu_power_w: float = DEFAULT_GPU_POWER_W
    country_iso: str | None = None
    gco2_per_kwh: float | None = None
    rapl_root: Path | None = None
    _rapl: list[tuple[Path, int]] = field(default_factory=list)
    _nvml: tuple[Any, Any, int] | None = None
    _cpu0: float = 0.0
    _wall0: float = 0.0

    def start(self) -> None:
        self._rapl = []
        for f in rapl_domains(self.rapl_root):
            try:
                self._rapl.append((f, _read_uj(f)))
            except (OSError, ValueError):
                continue
        nv = _nvml_handle(self.device)
        if nv is not None:
            self._nvml = (nv[0], nv[1], int(nv[0].nvmlDeviceGetTotalEnergyConsumption(nv[1])))
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()

    def stop(self, calls: int, latency_s: float | None) -> dict[str, Any]:
        cpu, wall = time.process_time() - self._cpu0, time.perf_counter() - self._wall0
        joules, parts = 0.0, []
        for f, before in self._rapl:
            try:
                after = _read_uj(f)
            except (OSError, ValueError):
                continue
            delta = after - before
            if delta < 0:  # the counter wrapped
                top = _max_uj(f)
                if top is None:
                    continue
                delta += top
            joules += delta / 1e6
            parts.append(f.parent.name)
        measured = []
        if parts:
            measured.append(f"RAPL ({', '.join(parts)}; whole CPU package, all processes)")
        if self._nvml is not None:
            nvml, handle, before_mj = self._nvml
            try:
                joules += (int(nvml.nvmlDeviceGetTotalEnergyConsumption(handle)) - before_mj) / 1e3
                measured.append(f"NVML nvmlDeviceGetTotalEnergyConsumption ({self.device})")
            except Exception:
                pass
        intensity, grid = grid_intensity(self.country_iso, self.gco2_per_kwh)
        if measured:
            per_case = joules / calls
            method = f"measured: {' + '.join(measured)}, mean of {calls} predict() calls; grid {grid}"
        elif latency_s is not None:
            util = min(1.0, max(0.0, cpu / (wall * self.cores))) if wall > 0 else 1.0
            gpu = self.gpu_power_w if getattr(self.device, "type", None) == "cuda" else 0.0
            per_case = estimate_energy_j(latency_s, self.cores, util, self.tdp_per_core_w, gpu)
            gpu_note = f" + GPU {gpu:g} W (declared board power, no NVML)" if gpu else ""
            method = (
                f"estimated (power model; no RAPL/NVML counter readable): {self.tdp_per_core_w:g} W per core "
                f"× {self.cores} core(s) × {util:.2f} CPU utilisation (process CPU time / wall / cores)"
                f"{gpu_note} × {latency_s:.4g} s latency per case; grid {grid}; PUE 1.0"
            )
        else:
            return self.unmeasured("not measured: no latency to estimate from")
        grams = co2_g(per_case, intensity)
        kwh, g1000 = per_thousand(per_case, grams)
        return {
            "energy_j": per_case, "co2_g": grams, "energy_kwh_per_1000": kwh, "co2_g_per_1000": g1000,
            "grid_gco2_per_kwh": intensity, "energy_method": method,
        }  # fmt: skip

    @staticmethod
    def unmeasured(reason: str) -> dict[str, Any]:
        return {
            "energy_j": None, "co2_g": None, "energy_kwh_per_1000": None, "co2_g_per_1000": None,
            "energy_method": reason,
        }  # fmt: skip


def with_method_keys(values: dict[str, Any]) -> dict[str, Any]:
    """The profile's ``<key>_method`` for each energy value, all the one method string."""
    method = values.pop("energy_method")
    for key in ("energy_j", "co2_g", "energy_kwh_per_1000", "co2_g_per_1000"):
        values[f"{key}_method"] = method
    return values
