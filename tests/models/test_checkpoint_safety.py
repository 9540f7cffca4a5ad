"""A checkpoint holding a malicious pickle is refused by every adapter that reads one, and its payload never
runs (it would create a marker file)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from model_helpers import (
    KWARGS,
    NET_SOURCE,
    ROI,
    make_adapter,
    write_bundle,
    write_evil_checkpoint,
    write_torchscript,
)

from robusteval.cli import main

FORMATS = ["pickle", "torch", "jit"]


def test_the_payload_is_live(tmp_path: Path) -> None:
    """Control: a full unpickler does run it, so the refusals below are meaningful."""
    marker = tmp_path / "pwned"
    path = write_evil_checkpoint(tmp_path / "evil.pkl", marker, "pickle")
    with path.open("rb") as f:
        pickle.load(f)["weight"].close()
    assert marker.exists()


def _params(kind: str, tmp_path: Path, evil: Path) -> dict[str, Any]:
    if kind == "monai":
        return {"architecture": "UNet", "kwargs": KWARGS, "checkpoint": str(evil), "roi_size": ROI}
    if kind == "python":
        (tmp_path / "mynet.py").write_text(NET_SOURCE)
        return {"function": "mynet:build", "checkpoint": str(evil), "roi_size": ROI}
    if kind == "bundle":
        folder = write_bundle(tmp_path / "b")
        (folder / "models" / "model.pt").write_bytes(evil.read_bytes())
        return {"bundle": str(folder)}
    return {"file": str(evil), "roi_size": ROI}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["monai", "python", "bundle", "torchscript"])
def test_a_malicious_checkpoint_is_refused_unrun(tmp_path: Path, kind: str, fmt: str) -> None:
    marker = tmp_path / "pwned"
    evil = write_evil_checkpoint(tmp_path / "evil.pt", marker, fmt)
    refusal = (
        r"refused: it holds|a TorchScript archive, not a state dict|not a TorchScript archive"
        r"|cannot load TorchScript file .*: Unknown type name"
    )
    with pytest.raises(ValueError, match=refusal):
        make_adapter(kind, _params(kind, tmp_path, evil), base_dir=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("pickle", "refused: it holds Python objects, not only tensors, and unpickling it could run code"),
        ("torch", "refused: it holds the Python object io.open, and unpickling it could run code"),
    ],
)
def test_the_refusal_says_what_to_do_instead_in_one_line(tmp_path: Path, fmt: str, expected: str) -> None:
    """Not torch's seven lines suggesting ``weights_only=False``: how to save a checkpoint that loads safely."""
    evil = write_evil_checkpoint(tmp_path / "evil.pt", tmp_path / "pwned", fmt)
    with pytest.raises(ValueError, match="refused: it holds") as info:
        make_adapter("monai", _params("monai", tmp_path, evil), base_dir=tmp_path)
    message = str(info.value)
    assert message.startswith(f"checkpoint {evil}: {expected}; re-save the weights alone with ")
    assert "torch.save(model.state_dict(), path)" in message
    assert "weights_only=False" not in message
    assert "\n" not in message


def test_a_torchscript_file_given_as_a_state_dict_points_to_the_torchscript_adapter(tmp_path: Path) -> None:
    path = write_torchscript(tmp_path / "net.pt", "script")
    with pytest.raises(ValueError, match="a TorchScript archive, not a state dict") as info:
        make_adapter("monai", _params("monai", tmp_path, path), base_dir=tmp_path)
    assert str(info.value) == (
        f"checkpoint {path}: a TorchScript archive, not a state dict: give it to the torchscript adapter "
        "(params.file), or save model.state_dict() with torch.save"
    )


def _validate(tmp_path: Path, kind: str, params: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    protocol = tmp_path / "p.yaml"
    protocol.write_text(
        f"name: t\nmodels:\n  - name: m\n    family: cnn\n    adapter: {kind}\n    params: {json.dumps(params)}\n"
    )
    code = main(["validate", str(protocol), "--cache", str(tmp_path / "cache")])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("kind", "fmt", "expected"),
    [
        ("monai", "pickle", "checkpoint {evil}: refused: it holds Python objects"),
        ("monai", "torch", "checkpoint {evil}: refused: it holds the Python object io.open"),
        ("python", "torch", "checkpoint {evil}: refused: it holds the Python object io.open"),
        ("bundle", "torch", "checkpoint {bundle}/models/model.pt: refused: it holds the Python object io.open"),
        ("torchscript", "jit", "cannot load TorchScript file {evil}: Unknown type name 'io.open' (the archive names"),
    ],
)
def test_validate_refuses_what_run_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, fmt: str, expected: str
) -> None:
    """validate builds each model as a run's worker does: the file:line of the model, the payload unrun."""
    marker = tmp_path / "pwned"
    evil = write_evil_checkpoint(tmp_path / "evil.pt", marker, fmt)
    code, err = _validate(tmp_path, kind, _params(kind, tmp_path, evil), capsys)
    assert code == 2
    reason = expected.format(evil=evil, bundle=tmp_path / "b")
    assert err.startswith(f"{tmp_path / 'p.yaml'}:3: models[0]: {reason}"), err
    assert len(err.splitlines()) == 1
    assert "weights_only=False" not in err
    assert not marker.exists()


def test_validate_refuses_a_checkpoint_that_does_not_fit_its_architecture(
    tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = {"architecture": "UNet", "kwargs": {**KWARGS, "channels": [8, 16]}, "checkpoint": str(checkpoint)}
    code, err = _validate(tmp_path, "monai", params, capsys)
    assert code == 2
    assert err.startswith(f"{tmp_path / 'p.yaml'}:3: models[0]: checkpoint {checkpoint} does not fit the network: ")
    assert "size mismatch" in err
    params["kwargs"] = KWARGS
    code, err = _validate(tmp_path, "monai", params, capsys)
    assert (code, err) == (0, "")
