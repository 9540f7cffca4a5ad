"""Helpers of the model-adapter tests: a tiny two-channel case, a tiny MONAI UNet, file writers."""

from __future__ import annotations

import json
import pickle
import warnings
import zlib
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
import yaml
from monai.networks.nets import UNet
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.models import ADAPTERS
from robusteval.models.base import ModelAdapter

KWARGS: dict[str, Any] = {
    "spatial_dims": 3,
    "in_channels": 2,
    "out_channels": 1,
    "channels": [4, 8],
    "strides": [2],
}
ROI = [16, 16, 16]
SHAPE = (20, 22, 18)


def make_case(
    case_id: str = "c1",
    shape: tuple[int, int, int] = SHAPE,
    spacing: float = 2.0,
    condition: str | None = None,
) -> Case:
    """Two modalities of uniform noise in [1, 2) (all "brain"), a 4³ lesion, an axis-aligned affine."""
    rng = np.random.default_rng(zlib.crc32(case_id.encode()))
    img = rng.uniform(1.0, 2.0, shape).astype(np.float32)
    label = np.zeros(shape, bool)
    label[8:12, 8:12, 8:12] = True
    affine = np.diag([spacing] * 3 + [1.0])
    affine[:3, 3] = [-10.0, 4.0, 2.5]
    meta = {} if condition is None else {"condition": condition}
    return Case(case_id, "s-" + case_id, "A", "x", {"flair": img, "t1": img * 0.5}, label, affine, metadata=meta)


def tiny_unet(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return UNet(**KWARGS).eval()


def make_adapter(kind: str, params: dict[str, Any], base_dir: Path | None = None, name: str = "m") -> ModelAdapter:
    """Validate ``params`` as the protocol loader does, then load the adapter on the CPU."""
    cls = ADAPTERS.get(kind)
    cls.validate_params(params, base_dir)
    return cls(name, params, base_dir, "cpu")


def save_nifti(path: Path, data: NDArray[np.generic], affine: NDArray[np.float64]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data), affine), str(path))
    return path


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the file appears iff the pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def write_evil_checkpoint(path: Path, marker: Path, fmt: str) -> Path:
    """A checkpoint whose loading by a full unpickler creates ``marker``: a plain pickle (``pickle``), a
    ``torch.save`` zip (``torch``), or that zip dressed as a TorchScript archive (``jit``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pickle":
        with path.open("wb") as f:
            pickle.dump({"weight": Payload(marker)}, f)
    else:
        torch.save({"weight": Payload(marker)}, path)
        if fmt == "jit":
            import zipfile

            with zipfile.ZipFile(path, "a") as zf:
                root = zf.namelist()[0].split("/")[0]
                zf.writestr(f"{root}/constants.pkl", pickle.dumps((Payload(marker),), protocol=2))
                zf.writestr(f"{root}/code/__torch__/m.py", "class M(Module):\n  pass\n")
    return path


NET_SOURCE = """
from monai.networks.nets import UNet


def build(channels=(4, 8)):
    return UNet(spatial_dims=3, in_channels=2, out_channels=1, channels=list(channels), strides=[2])


def not_a_module():
    return 3
"""


def write_torchscript(path: Path, mode: str) -> Path:
    """The tiny UNet scripted or traced, saved with torch.jit.save (their deprecation and tracer warnings are
    about making the file, not about the adapter under test: silenced)."""
    net = tiny_unet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.jit.script(net) if mode == "script" else torch.jit.trace(net, torch.zeros(1, 2, *ROI))
        torch.jit.save(ts, str(path))
    return path


def write_bundle(folder: Path, fmt: str = "json", classes: int = 1) -> Path:
    """A minimal MONAI bundle: ``configs/inference.<fmt>`` with ``network_def`` (``classes`` output channels)
    and ``inferer``, and the tiny UNet's weights (seed 0) as ``models/model.pt``."""
    torch.manual_seed(0)
    net = UNet(**{**KWARGS, "out_channels": classes})
    config = {
        "bundle_root": ".",
        "num_classes": classes,
        "network_def": {"_target_": "monai.networks.nets.UNet", **KWARGS, "out_channels": "@num_classes"},
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": ROI, "sw_batch_size": 3, "overlap": 0.5},
        "device": "$torch.device('cpu')",
    }  # fmt: skip
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    text = json.dumps(config) if fmt == "json" else yaml.safe_dump(config)
    (folder / "configs" / f"inference.{fmt}").write_text(text)
    torch.save(net.state_dict(), folder / "models" / "model.pt")
    return folder
