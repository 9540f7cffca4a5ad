"""A checkpoint holding a malicious pickle is refused by every adapter that reads one, and its payload never
runs (it would create a marker file)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from model_helpers import KWARGS, NET_SOURCE, ROI, make_adapter, write_bundle, write_evil_checkpoint

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
    with pytest.raises(ValueError, match=r"refused or unreadable|not a TorchScript archive|cannot load TorchScript"):
        make_adapter(kind, _params(kind, tmp_path, evil), base_dir=tmp_path)
    assert not marker.exists()
