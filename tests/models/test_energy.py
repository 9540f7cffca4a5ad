"""Energy and CO2: the power-model estimate by hand, the grid intensity and its overrides, RAPL counters
read from a (fake) powercap tree, and the profile's energy fields with their method."""

from __future__ import annotations

from pathlib import Path

import pytest

from robusteval.models import energy
from robusteval.models.energy import (
    DEFAULT_CPU_TDP_PER_CORE_W,
    DEFAULT_GRID_INTENSITY_G_PER_KWH,
    EnergyMeter,
    co2_g,
    estimate_energy_j,
    grid_intensity,
    per_thousand,
    rapl_domains,
)


def test_the_estimate_equals_the_hand_computation() -> None:
    # 2.5 s per case on 4 cores at 50 % utilisation, 10 W per core: 4 × 10 × 0.5 = 20 W → 50 J per case
    joules = estimate_energy_j(2.5, cores=4, utilisation=0.5, tdp_per_core_w=10.0)
    assert joules == pytest.approx(50.0)
    grams = co2_g(joules, 475.0)
    assert grams == pytest.approx(50.0 / 3.6e6 * 475.0)  # 6.597e-3 g per case
    kwh, g1000 = per_thousand(joules, grams)
    assert kwh == pytest.approx(50.0 * 1000 / 3.6e6)  # 0.01389 kWh per 1,000 cases
    assert g1000 == pytest.approx(6.5972, rel=1e-4)  # 6.6 g CO2eq per 1,000 cases
    # a GPU's declared board power adds to the CPU's
    assert estimate_energy_j(2.0, 1, 1.0, 10.0, gpu_power_w=250.0) == pytest.approx(520.0)
    with pytest.raises(ValueError, match="utilisation"):
        estimate_energy_j(1.0, 1, 1.5)


def test_defaults_are_declared() -> None:
    assert DEFAULT_GRID_INTENSITY_G_PER_KWH == 475.0
    assert DEFAULT_CPU_TDP_PER_CORE_W == 10.0
    assert "IEA" in (energy.__doc__ or "") or "IEA" in grid_intensity(None, None)[1]


def test_grid_intensity_default_override_and_country() -> None:
    value, source = grid_intensity(None, None)
    assert value == DEFAULT_GRID_INTENSITY_G_PER_KWH
    assert "default" in source
    assert "IEA 2019" in source
    value, source = grid_intensity("FRA", 56.0)  # the explicit figure wins over the country
    assert value == 56.0
    assert "energy_grid_gco2_per_kwh" in source
    value, source = grid_intensity("FRA", None)
    assert value > 0
    assert "FRA" in source  # codecarbon's figure, or the default with the reason the country was not used


def _zone(root: Path, name: str, uj: int | str, top: int | None = None) -> Path:
    (root / name).mkdir(parents=True, exist_ok=True)
    f = root / name / "energy_uj"
    f.write_text(f"{uj}\n")
    if top is not None:
        (root / name / "max_energy_range_uj").write_text(f"{top}\n")
    return f


def test_rapl_counters_are_read_from_the_powercap_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg0 = _zone(tmp_path, "intel-rapl:0", 1_000_000)
    _zone(tmp_path, "intel-rapl:0:0", 500_000)  # a sub-zone (core) inside package 0: not counted again
    pkg1 = _zone(tmp_path, "intel-rapl:1", 262_000_000, top=262_143_328)  # will wrap
    _zone(tmp_path, "intel-rapl:2", "not-a-number")  # unreadable: left out
    monkeypatch.setattr(energy, "POWERCAP_ROOT", tmp_path)
    assert rapl_domains() == [pkg0, pkg1]
    meter = EnergyMeter(gco2_per_kwh=100.0)
    meter.start()
    pkg0.write_text("31000000\n")  # +30 J
    pkg1.write_text("9856672\n")  # wrapped: 262_143_328 - 262_000_000 + 9_856_672 = 10 J
    out = meter.stop(calls=4, latency_s=0.5)
    assert out["energy_j"] == pytest.approx(40.0 / 4)
    assert out["co2_g"] == pytest.approx(10.0 / 3.6e6 * 100.0)
    assert out["co2_g_per_1000"] == pytest.approx(out["co2_g"] * 1000)
    assert out["energy_method"].startswith("measured: RAPL (intel-rapl:0, intel-rapl:1")
    assert "100 gCO2eq/kWh" in out["energy_method"]


def test_without_counters_the_power_model_is_used(tmp_path: Path) -> None:
    meter = EnergyMeter(cores=2, tdp_per_core_w=8.0, rapl_root=tmp_path)  # an empty powercap tree
    meter.start()
    sum(i * i for i in range(200_000))  # busy on one core
    out = meter.stop(calls=1, latency_s=0.25)
    assert out["energy_method"].startswith("estimated (power model")
    assert "8 W per core × 2 core(s)" in out["energy_method"]
    assert "475 gCO2eq/kWh (default" in out["energy_method"]
    assert 0 < out["energy_j"] <= 8.0 * 2 * 0.25
    assert out["co2_g"] == pytest.approx(co2_g(out["energy_j"], DEFAULT_GRID_INTENSITY_G_PER_KWH))
    assert out["energy_kwh_per_1000"] == pytest.approx(out["energy_j"] * 1000 / 3.6e6)
