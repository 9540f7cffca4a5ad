"""``torchscript``, ``bundle`` and ``python`` adapters: each loads, predicts the same probabilities as the
eager network with the same weights, and names the model when the input channels do not fit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from model_helpers import (
    KWARGS,
    NET_SOURCE,
    ROI,
    make_adapter,
    make_case,
    tiny_unet,
    write_bundle,
    write_torchscript,
)
from monai.inferers.utils import sliding_window_inference
from monai.networks.nets import UNet

from robusteval.errors import CaseError
from robusteval.models.base import TorchSegmenter, normalize


def reference_prob(checkpoint: Path, **settings: Any) -> np.ndarray:
    """The probabilities of the eager tiny UNet with the same weights, through the monai adapter."""
    params = {
        "architecture": "UNet",
        "kwargs": KWARGS,
        "checkpoint": str(checkpoint),
        "roi_size": ROI,
        **settings,
    }
    return make_adapter("monai", params).predict(make_case()).prob


@pytest.mark.parametrize("mode", ["script", "trace"])
def test_torchscript_predicts_like_the_eager_network(tmp_path: Path, checkpoint: Path, mode: str) -> None:
    write_torchscript(tmp_path / "net.ts", mode)
    model = make_adapter("torchscript", {"file": "net.ts", "roi_size": ROI}, base_dir=tmp_path)
    case = make_case()
    pred = model.predict(case)
    assert pred.prob.shape == case.shape
    np.testing.assert_allclose(pred.prob, reference_prob(checkpoint), atol=1e-5)
    np.testing.assert_array_equal(pred.mask, pred.prob >= 0.5)
    assert isinstance(model, TorchSegmenter)
    assert model.describe()["parameters"] == sum(p.numel() for p in tiny_unet().parameters())


def test_torchscript_refuses_a_state_dict_with_a_clear_message(tmp_path: Path, checkpoint: Path) -> None:
    with pytest.raises(ValueError, match=r"not a TorchScript archive.*torch\.save checkpoint"):
        make_adapter("torchscript", {"file": str(checkpoint)})
    with pytest.raises(ValueError, match="file not found"):
        make_adapter("torchscript", {"file": "nope.ts"}, base_dir=tmp_path)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_bundle_predicts_like_the_eager_network(tmp_path: Path, checkpoint: Path, fmt: str) -> None:
    write_bundle(tmp_path / "b", fmt)
    model = make_adapter("bundle", {"bundle": "b"}, base_dir=tmp_path)
    assert isinstance(model, TorchSegmenter)
    # the bundle's inferer gives roi, batch and overlap; out_channels 1 (via a reference) gives sigmoid
    s = model.settings
    assert (s.roi_size, s.sw_batch_size, s.overlap, s.output) == (tuple(ROI), 3, 0.5, "sigmoid")
    np.testing.assert_allclose(model.predict(make_case()).prob, reference_prob(checkpoint, overlap=0.5), atol=1e-5)


def test_bundle_settings_are_overridden_by_params(tmp_path: Path) -> None:
    write_bundle(tmp_path / "b", classes=2)
    model = make_adapter("bundle", {"bundle": str(tmp_path / "b"), "overlap": 0.0, "threshold": 0.3})
    assert isinstance(model, TorchSegmenter)
    s = model.settings
    assert (s.overlap, s.threshold, s.sw_batch_size, s.output) == (0.0, 0.3, 3, "softmax")
    prob = model.predict(make_case()).prob
    # softmax foreground (channel 1) of the same network, computed here without the adapter
    torch.manual_seed(0)
    net = UNet(**{**KWARGS, "out_channels": 2}).eval()
    x = torch.from_numpy(normalize(make_case().stacked(["flair", "t1"]), "zscore_brain"))[None]
    with torch.inference_mode():
        logits = sliding_window_inference(x, tuple(ROI), 3, net, overlap=0.0, mode="gaussian")
    assert isinstance(logits, torch.Tensor)
    np.testing.assert_allclose(prob, torch.softmax(logits, 1)[0, 1].numpy(), atol=1e-5)


def test_bundle_without_network_def_or_weights_is_rejected(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b")
    with pytest.raises(ValueError, match=r"params\.network_key: .* has no 'net'"):
        make_adapter("bundle", {"bundle": str(folder), "network_key": "net"})
    (folder / "models" / "model.pt").unlink()
    with pytest.raises(ValueError, match=r"params\.weights: file not found"):
        make_adapter("bundle", {"bundle": str(folder)})
    with pytest.raises(ValueError, match=r"params\.bundle: .* has none of configs/inference\.json"):
        make_adapter("bundle", {"bundle": str(tmp_path)})


def test_python_function_from_the_protocol_folder(tmp_path: Path, checkpoint: Path) -> None:
    (tmp_path / "mynet.py").write_text(NET_SOURCE)
    path_before = list(sys.path)
    params = {
        "function": "mynet:build",
        "kwargs": {"channels": [4, 8]},
        "checkpoint": "w.pt",
        "roi_size": ROI,
    }
    model = make_adapter("python", params, base_dir=tmp_path)
    assert sys.path == path_before  # the protocol folder was on sys.path only while mynet.py ran
    assert "mynet" not in sys.modules  # loaded under a private name: no shadowing of another "mynet"
    np.testing.assert_allclose(model.predict(make_case()).prob, reference_prob(checkpoint), atol=1e-6)


def test_a_checkpoint_of_another_network_names_the_model(tmp_path: Path, checkpoint: Path) -> None:
    (tmp_path / "mynet.py").write_text(NET_SOURCE)
    params = {"function": "mynet:build", "kwargs": {"channels": [8, 16]}, "checkpoint": "w.pt"}
    with pytest.raises(ValueError, match=r"model m: checkpoint .*w\.pt does not fit the network: .*size mismatch"):
        make_adapter("python", params, base_dir=tmp_path)


def test_python_fingerprint_follows_the_module_source(tmp_path: Path) -> None:
    (tmp_path / "mynet.py").write_text(NET_SOURCE)
    first = make_adapter("python", {"function": "mynet:build", "roi_size": ROI}, base_dir=tmp_path).fingerprint()
    (tmp_path / "mynet.py").write_text(NET_SOURCE + "\n# changed\n")
    second = make_adapter("python", {"function": "mynet:build", "roi_size": ROI}, base_dir=tmp_path).fingerprint()
    assert first != second


def test_python_installed_module_and_bad_specs(tmp_path: Path) -> None:
    params = {"function": "monai.networks.nets:UNet", "kwargs": KWARGS, "roi_size": ROI}
    assert make_adapter("python", params).predict(make_case()).prob.shape == make_case().shape
    with pytest.raises(ValueError, match=r"params\.function: expected 'module:function'"):
        make_adapter("python", {"function": "mynet.build"}, base_dir=tmp_path)
    with pytest.raises(ValueError, match=r"params\.function: module 'nosuchmod' is neither"):
        make_adapter("python", {"function": "nosuchmod:build"}, base_dir=tmp_path)
    (tmp_path / "mynet.py").write_text(NET_SOURCE)
    with pytest.raises(ValueError, match=r"returned a int, not a torch\.nn\.Module"):
        make_adapter("python", {"function": "mynet:not_a_module"}, base_dir=tmp_path)
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        make_adapter("python", {"function": "mynet:nope"}, base_dir=tmp_path)


@pytest.mark.parametrize("kind", ["torchscript-script", "torchscript-trace", "bundle", "python"])
def test_wrong_input_channel_count_names_the_model(tmp_path: Path, checkpoint: Path, kind: str) -> None:
    settings = {"modalities": ["flair"], "roi_size": ROI}
    if kind.startswith("torchscript"):
        write_torchscript(tmp_path / "net.ts", kind.split("-")[1])
        params: dict[str, Any] = {"file": "net.ts", **settings}
    elif kind == "bundle":
        write_bundle(tmp_path / "b")
        params = {"bundle": "b", **settings}
    else:
        (tmp_path / "mynet.py").write_text(NET_SOURCE)
        params = {"function": "mynet:build", "checkpoint": "w.pt", **settings}
    model = make_adapter(kind.split("-")[0], params, base_dir=tmp_path, name="wmh-net")
    with pytest.raises(CaseError, match=r"model wmh-net: the network rejected the input of 1 channel.*2 channels"):
        model.predict(make_case())
