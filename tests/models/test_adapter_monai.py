"""``monai`` adapter and the shared TorchSegmenter inference (moved from tests/test_models.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from model_helpers import KWARGS, ROI, make_adapter, make_case

from robusteval.errors import CaseError
from robusteval.models import ADAPTERS
from robusteval.models.base import TorchSegmenter, normalize, spacing_shape, to_spacing
from robusteval.models.zoo_entry import ZOO_DIR, load_card, zoo_entries


def _monai(checkpoint: Path, **extra: object) -> TorchSegmenter:
    params = {
        "architecture": "UNet",
        "kwargs": KWARGS,
        "checkpoint": str(checkpoint),
        "roi_size": ROI,
        **extra,
    }
    model = make_adapter("monai", params)
    assert isinstance(model, TorchSegmenter)
    return model


def test_monai_adapter_predicts_probabilities_on_the_case_grid(checkpoint: Path) -> None:
    model = _monai(checkpoint)
    case = make_case()
    pred = model.predict(case)
    assert pred.prob.shape == case.shape
    assert pred.prob.dtype == np.float32
    assert pred.prob.min() >= 0.0
    assert pred.prob.max() <= 1.0
    np.testing.assert_array_equal(pred.mask, pred.prob >= 0.5)


def test_working_spacing_resamples_and_returns_to_the_case_grid(checkpoint: Path) -> None:
    model = _monai(checkpoint, spacing_mm=[1.0, 1.0, 1.0], tta_flips=True)
    case = make_case(spacing=2.0)
    assert model.working_shape(case) == (40, 44, 36)
    pred = model.predict(case)
    assert pred.prob.shape == case.shape
    assert pred.uncertainty is not None
    assert pred.uncertainty.shape == case.shape
    assert (pred.uncertainty >= 0).all()


def test_describe_reports_parameters_counted_independently(checkpoint: Path) -> None:
    state = torch.load(checkpoint, weights_only=True)
    # no buffers here (instance norm keeps no running stats): the whole state dict is parameters
    expected = sum(v.numel() for v in state.values())
    info = _monai(checkpoint).describe()
    assert info["parameters"] == expected > 0
    assert info["inference"]["roi_size"] == ROI


def test_a_checkpoint_wrapped_in_model_with_module_prefix_loads(tmp_path: Path, checkpoint: Path) -> None:
    state = torch.load(checkpoint, weights_only=True)
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, wrapped)
    case = make_case()
    np.testing.assert_array_equal(_monai(wrapped).predict(case).prob, _monai(checkpoint).predict(case).prob)


def test_wrong_channel_count_names_the_model(checkpoint: Path) -> None:
    model = _monai(checkpoint, modalities=["flair"])
    with pytest.raises(CaseError, match=r"model m: the network rejected the input of 1 channel\(s\) \['flair'\]"):
        model.predict(make_case())


def test_missing_modality_is_a_case_error(checkpoint: Path) -> None:
    model = _monai(checkpoint, modalities=["flair", "t2"])
    with pytest.raises(CaseError, match="no modality"):
        model.predict(make_case())


def test_unknown_params_and_architecture_are_rejected(checkpoint: Path) -> None:
    with pytest.raises(ValueError, match="unknown params"):
        ADAPTERS.get("monai").validate_params({"architecture": "UNet", "checkpoint": str(checkpoint), "x": 1}, None)
    with pytest.raises(ValueError, match=r"neither a network in monai\.networks\.nets"):
        ADAPTERS.get("monai").validate_params({"architecture": "Nope", "checkpoint": str(checkpoint)}, None)
    with pytest.raises(ValueError, match="overlap"):
        ADAPTERS.get("monai").validate_params(
            {"architecture": "UNet", "checkpoint": str(checkpoint), "overlap": 1}, None
        )


def test_zscore_normalization_inside_the_brain() -> None:
    x = np.zeros((1, 4, 4, 4), np.float32)
    x[0, 1:3, 1:3, 1:3] = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    out = normalize(x, "zscore_brain")
    brain = out[0, 1:3, 1:3, 1:3]
    assert brain.mean() == pytest.approx(0.0, abs=1e-6)
    assert brain.std() == pytest.approx(1.0, abs=1e-6)
    assert (out[0][x[0] == 0] == 0).all()


def test_to_spacing_shape() -> None:
    x = torch.zeros(1, 1, 10, 20, 30)
    assert tuple(to_spacing(x, (2.0, 1.0, 1.0), (1.0, 1.0, 3.0)).shape[2:]) == (20, 20, 10)
    assert spacing_shape((10, 20, 30), (2.0, 1.0, 1.0), (1.0, 1.0, 3.0)) == (20, 20, 10)


def test_zoo_cards_are_complete() -> None:
    assert "unet" in zoo_entries()
    for entry in zoo_entries():
        card = load_card(entry)
        assert {"adapter", "params", "architecture", "family", "parameters", "training", "metrics"} <= set(card)
        ADAPTERS.get(card["adapter"]).validate_params(card["params"], ZOO_DIR)
        assert json.loads((ZOO_DIR / f"{entry}.json").read_text())["entry"] == entry
