"""Efficiency profile: parameters and FLOPs against hand counts, sliding windows counted by a hook, latency,
peak memory against a known allocation, energy through codecarbon when installed."""

from __future__ import annotations

import importlib.util
import statistics
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from model_helpers import KWARGS, ROI, make_adapter, make_case, save_nifti, tiny_unet

from robusteval.models import efficiency
from robusteval.models.base import TorchSegmenter
from robusteval.models.efficiency import count_flops, peak_memory_mib, profile_model

CONV_SOURCE = """
import torch


def conv(cin=2, cout=1, k=3):
    return torch.nn.Conv3d(cin, cout, k, padding=k // 2)
"""


def _conv_model(tmp_path: Path, **settings: object) -> TorchSegmenter:
    (tmp_path / "convnet.py").write_text(CONV_SOURCE)
    params = {"function": "convnet:conv", "roi_size": [8, 8, 8], "overlap": 0.25, **settings}
    model = make_adapter("python", params, base_dir=tmp_path)
    assert isinstance(model, TorchSegmenter)
    return model


def test_flops_of_one_conv3d_equal_the_hand_count(tmp_path: Path) -> None:
    model = _conv_model(tmp_path)
    prof = profile_model(model, make_case(shape=(16, 16, 16)), repeats=2, warmup=0)
    cin, cout, k, out_voxels = 2, 1, 3, 8**3  # "same" padding: output voxels = roi voxels
    assert prof["flops"] == 2 * cin * cout * k**3 * out_voxels  # multiply-add = 2 FLOPs; bias not counted
    assert prof["parameters"] == cin * cout * k**3 + cout
    assert "FlopCounterMode" in prof["flops_method"]
    assert "(1, 2, 8, 8, 8)" in prof["flops_method"]


def test_flops_per_case_counts_the_windows_the_network_really_runs(tmp_path: Path) -> None:
    model = _conv_model(tmp_path, tta_flips=True)
    case = make_case(shape=(16, 16, 16))
    seen: list[int] = []
    hook = model.network.register_forward_hook(lambda _m, args, _out: seen.append(int(args[0].shape[0])))
    model.predict(case)
    hook.remove()
    windows = sum(seen)  # 4 passes (identity + 3 flips) of the same windows
    # MONAI: interval int(8 * 0.75) = 6, starts 0, 6, 8 (last one clamped) per axis → 27 windows a pass
    assert windows == 4 * 27
    prof = profile_model(model, case, repeats=1, warmup=0)
    assert prof["flops_per_case"] == prof["flops"] * windows


def test_profile_of_the_tiny_unet(checkpoint: Path) -> None:
    params = {"architecture": "UNet", "kwargs": KWARGS, "checkpoint": str(checkpoint), "roi_size": ROI}
    model = make_adapter("monai", params)
    prof = profile_model(model, make_case(), repeats=3, warmup=1)
    assert prof["parameters"] == sum(p.numel() for p in tiny_unet().parameters()) > 0
    assert prof["flops"] > 0
    assert len(prof["latency_runs_s"]) == 3
    assert prof["latency_s"] == statistics.median(prof["latency_runs_s"]) > 0
    assert prof["peak_memory_mib"] is None or prof["peak_memory_mib"] >= 0
    assert prof["peak_memory_mib_method"]
    # no codecarbon grid named: RAPL where readable, else the declared power model on the measured latency
    assert prof["energy_j"] > 0
    assert prof["co2_g"] > 0
    assert prof["co2_g_per_1000"] == pytest.approx(prof["co2_g"] * 1000)
    assert prof["energy_j_method"].startswith(("measured: RAPL", "estimated (power model"))
    assert prof["co2_g_method"] == prof["energy_j_method"]


def test_profile_energy_estimate_uses_the_latency_and_the_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(efficiency.torch, "get_num_threads", lambda: 1)
    model = _conv_model(tmp_path)
    prof = profile_model(
        model, make_case(shape=(16, 16, 16)), repeats=2, warmup=0, grid_gco2_per_kwh=100.0,
        cpu_tdp_per_core_w=20.0, rapl_root=tmp_path / "no-powercap",
    )  # fmt: skip
    method = prof["energy_j_method"]
    assert method.startswith("estimated (power model")
    assert "20 W per core × 1 core(s)" in method
    assert "100 gCO2eq/kWh (protocol" in method
    assert 0 < prof["energy_j"] <= 20.0 * prof["latency_s"] + 1e-12
    assert prof["co2_g"] == pytest.approx(prof["energy_j"] / 3.6e6 * 100.0)
    assert prof["energy_kwh_per_1000"] == pytest.approx(prof["energy_j"] / 3.6e3)


@pytest.mark.skipif(importlib.util.find_spec("codecarbon") is not None, reason="checks the fallback")
def test_a_country_without_codecarbon_falls_back_and_says_why(tmp_path: Path) -> None:
    model = _conv_model(tmp_path)
    prof = profile_model(model, make_case(shape=(16, 16, 16)), repeats=1, warmup=0, country_iso_code="DEU",
                         rapl_root=tmp_path / "no-powercap")  # fmt: skip
    assert prof["energy_j"] > 0
    assert "codecarbon unavailable" in prof["energy_j_method"]
    assert "country DEU not looked up" in prof["energy_j_method"]


def test_count_flops_of_a_linear_layer() -> None:
    layer = torch.nn.Linear(16, 4)
    assert count_flops(layer, torch.zeros(3, 16)) == 2 * 3 * 16 * 4


def test_peak_memory_sees_a_known_allocation() -> None:
    mib, method = peak_memory_mib(lambda: np.ones(8 * 2**20).sum(), torch.device("cpu"))  # 64 MiB of float64
    assert mib is not None, method
    assert 60.0 <= mib < 200.0, method
    assert "RSS" in method


@pytest.mark.skipif(importlib.util.find_spec("psutil") is None, reason="psutil is optional")
def test_peak_memory_falls_back_to_sampling_without_clear_refs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(efficiency, "_CLEAR_REFS", tmp_path / "missing" / "clear_refs")

    def hold() -> None:  # 64 MiB held for 50 ms: the 2 ms sampler sees it
        a = np.ones(8 * 2**20)
        time.sleep(0.05)
        a.sum()

    mib, method = peak_memory_mib(hold, torch.device("cpu"))
    assert "psutil" in method
    assert mib is not None
    assert 60.0 <= mib < 200.0, method


def test_predictions_adapter_has_no_network_but_a_latency(tmp_path: Path) -> None:
    case = make_case(condition="clean")
    save_nifti(tmp_path / "p/c1.nii.gz", case.label.astype(np.uint8), case.affine)
    model = make_adapter("predictions", {"mask": "p/{case_id}.nii.gz"}, base_dir=tmp_path)
    prof = profile_model(model, case, repeats=2, warmup=0)
    assert prof["parameters"] is None
    assert prof["flops"] is None
    assert prof["flops_method"].startswith("not applicable")
    assert prof["latency_s"] > 0


@pytest.mark.skipif(importlib.util.find_spec("codecarbon") is None, reason="codecarbon is optional")
def test_energy_and_co2_through_codecarbon(tmp_path: Path) -> None:
    model = _conv_model(tmp_path)
    prof = profile_model(model, make_case(shape=(16, 16, 16)), repeats=2, warmup=0, country_iso_code="DEU")
    assert prof["energy_j"] is not None, prof["energy_j_method"]
    assert prof["energy_j"] > 0
    assert prof["co2_g"] > 0
    assert "codecarbon" in prof["energy_j_method"]
    assert "DEU" in prof["co2_g_method"]
