"""Model adapters: safe checkpoint loading, clear errors, probabilities in [0, 1] on the case's own grid."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from robusteval.data.case import Case
from robusteval.errors import CaseError
from robusteval.models import ADAPTERS
from robusteval.models.base import normalize, to_spacing
from robusteval.models.zoo_entry import ZOO_DIR, load_card, zoo_entries

KWARGS = {"spatial_dims": 3, "in_channels": 2, "out_channels": 1, "channels": [4, 8], "strides": [2]}


def _case(shape: tuple[int, int, int] = (20, 22, 18), spacing: float = 2.0) -> Case:
    rng = np.random.default_rng(0)
    img = rng.uniform(1.0, 2.0, shape).astype(np.float32)
    label = np.zeros(shape, bool)
    label[8:12, 8:12, 8:12] = True
    return Case("c1", "s1", "A", "x", {"flair": img, "t1": img * 0.5}, label, np.diag([spacing] * 3 + [1.0]))


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    from monai.networks.nets import UNet

    torch.manual_seed(0)
    path = tmp_path / "w.pt"
    torch.save(UNet(**KWARGS).state_dict(), path)
    return path


def _monai(checkpoint: Path, **extra: object) -> object:
    params = {"architecture": "UNet", "kwargs": KWARGS, "checkpoint": str(checkpoint), "roi_size": [16, 16, 16],
              **extra}  # fmt: skip
    ADAPTERS.get("monai").validate_params(params, None)
    return ADAPTERS.get("monai")("m", params, None, "cpu")


def test_monai_adapter_predicts_probabilities_on_the_case_grid(checkpoint: Path) -> None:
    model = _monai(checkpoint)
    case = _case()
    pred = model.predict(case)  # type: ignore[attr-defined]
    assert pred.prob.shape == case.shape
    assert pred.prob.dtype == np.float32
    assert 0.0 <= pred.prob.min() and pred.prob.max() <= 1.0
    np.testing.assert_array_equal(pred.mask, pred.prob >= 0.5)


def test_working_spacing_resamples_and_returns_to_the_case_grid(checkpoint: Path) -> None:
    model = _monai(checkpoint, spacing_mm=[1.0, 1.0, 1.0], tta_flips=True)
    case = _case(spacing=2.0)
    pred = model.predict(case)  # type: ignore[attr-defined]
    assert pred.prob.shape == case.shape
    assert pred.uncertainty is not None and pred.uncertainty.shape == case.shape
    assert (pred.uncertainty >= 0).all()


def test_a_pickle_checkpoint_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        pickle.dump({"weight": Evil()}, f)
    params = {"architecture": "UNet", "kwargs": KWARGS, "checkpoint": str(path)}
    with pytest.raises(ValueError, match="refused or unreadable"):
        ADAPTERS.get("monai")("m", params, None, "cpu")


def test_wrong_channel_count_names_the_model(checkpoint: Path) -> None:
    model = _monai(checkpoint, modalities=["flair"])
    with pytest.raises(CaseError, match="model m: the network rejected the input of 1 channel"):
        model.predict(_case())  # type: ignore[attr-defined]


def test_missing_modality_is_a_case_error(checkpoint: Path) -> None:
    model = _monai(checkpoint, modalities=["flair", "t2"])
    with pytest.raises(CaseError, match="no modality"):
        model.predict(_case())  # type: ignore[attr-defined]


def test_unknown_params_and_architecture_are_rejected(checkpoint: Path) -> None:
    with pytest.raises(ValueError, match="unknown params"):
        ADAPTERS.get("monai").validate_params({"architecture": "UNet", "checkpoint": str(checkpoint), "x": 1}, None)
    with pytest.raises(ValueError, match="not a network"):
        ADAPTERS.get("monai").validate_params({"architecture": "Nope", "checkpoint": str(checkpoint)}, None)


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


def test_zoo_cards_are_complete() -> None:
    assert "unet" in zoo_entries()
    for entry in zoo_entries():
        card = load_card(entry)
        assert (ZOO_DIR / card["weights"]).stat().st_size <= 10 * 2**20
        assert {"architecture", "family", "parameters", "training", "inference"} <= set(card)
        assert json.loads((ZOO_DIR / f"{entry}.json").read_text())["entry"] == entry
