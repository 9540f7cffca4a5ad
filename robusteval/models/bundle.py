"""``bundle`` adapter: a MONAI bundle folder (``configs/inference.json|yaml`` + ``models/model.pt``).

The network is ``monai.bundle.ConfigParser``'s instance of the config's ``network_def``; the weights are a
state dict read with ``torch.load(weights_only=True)``. A bundle config is code (``_target_`` instantiates any
class and ``$`` expressions are evaluated), trusted like the protocol itself; the weights file is not.

Inference settings: defaults from the bundle (its ``inferer``'s literal ``roi_size``, ``sw_batch_size`` and
``overlap``; ``output`` from ``network_def``'s ``out_channels``: 1 → sigmoid, more → softmax foreground =
channel 1), then :class:`InferenceSettings` defaults, each overridden by ``params``. The bundle's own
pre/post-processing transforms are not run: set ``modalities`` and ``normalization`` to match its training
(``orientation`` is RAS by default, as the ``Orientationd(axcodes="RAS")`` of most bundles).
"""

from __future__ import annotations

__all__ = ["BundleNetwork", "bundle_config"]

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robusteval.models.base import (
    ADAPTERS,
    TorchSegmenter,
    check_settings_params,
    checkpoint_sha256,
    resolve,
)
from robusteval.models.monai_net import load_weights

if TYPE_CHECKING:  # torch is imported where a network is built or run: listing and validating stay quick
    import torch

OWN_KEYS = {"bundle", "config", "weights", "network_key"}
CONFIG_CANDIDATES = ("configs/inference.json", "configs/inference.yaml", "configs/inference.yml")
DEFAULT_WEIGHTS = "models/model.pt"


def bundle_config(folder: Path, config: str | None = None) -> Path:
    """The inference config of a bundle: ``config`` (relative to the bundle) or the first of
    ``configs/inference.json``, ``.yaml``, ``.yml``; ValueError naming the parameter when missing."""
    if not folder.is_dir():
        raise ValueError(f"params.bundle: not a folder: {folder}")
    if config is not None:
        path = folder / config
        if not path.is_file():
            raise ValueError(f"params.config: file not found: {path}")
        return path
    for name in CONFIG_CANDIDATES:
        if (folder / name).is_file():
            return folder / name
    raise ValueError(f"params.bundle: {folder} has none of {', '.join(CONFIG_CANDIDATES)}")


def _parser(config: Path, folder: Path) -> Any:
    from monai.bundle.config_parser import ConfigParser

    parser = ConfigParser()
    try:
        parser.read_config(str(config))
    except Exception as exc:
        raise ValueError(f"params.config: cannot read {config}: {type(exc).__name__}: {exc}") from None
    if "bundle_root" in parser:
        parser["bundle_root"] = str(folder)
    return parser


def _resolved(parser: Any, id_: str) -> Any:
    """The value at ``id_`` with references and expressions resolved, nothing instantiated; None if absent."""
    if id_ not in parser:
        return None
    try:
        return parser.get_parsed_content(id_, instantiate=False)
    except Exception:  # a value we cannot resolve alone: the setting keeps its default
        return None


def _bundle_defaults(parser: Any, network_key: str) -> dict[str, Any]:
    """Inference settings the bundle states (anything else is left to params / the defaults)."""
    out: dict[str, Any] = {}
    roi = _resolved(parser, "inferer#roi_size")
    if isinstance(roi, list | tuple) and len(roi) == 3 and all(isinstance(v, int) for v in roi):
        out["roi_size"] = tuple(roi)
    batch = _resolved(parser, "inferer#sw_batch_size")
    if isinstance(batch, int):
        out["sw_batch_size"] = batch
    overlap = _resolved(parser, "inferer#overlap")
    if isinstance(overlap, int | float):
        out["overlap"] = float(overlap)
    channels = _resolved(parser, f"{network_key}#out_channels")
    if isinstance(channels, int) and channels >= 1:
        out["output"] = "sigmoid" if channels == 1 else "softmax"
    return out


class BundleNetwork(TorchSegmenter):
    doc = "A MONAI bundle folder: network_def from configs/inference.json|yaml, models/model.pt weights_only."

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        self.folder = resolve(params["bundle"], base_dir)
        self.config_path = bundle_config(self.folder, params.get("config"))
        self.network_key = str(params.get("network_key", "network_def"))
        self.parser = _parser(self.config_path, self.folder)
        super().__init__(name, params, base_dir, device)

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        if "bundle" not in params:
            raise ValueError("params.bundle (the bundle folder) is required for the bundle adapter")
        folder = resolve(params["bundle"], base_dir)
        config = bundle_config(folder, params.get("config"))
        key = str(params.get("network_key", "network_def"))
        if key not in _parser(config, folder):
            raise ValueError(f"params.network_key: {config} has no {key!r}")
        weights = folder / str(params.get("weights", DEFAULT_WEIGHTS))
        if not weights.is_file():
            raise ValueError(f"params.weights: file not found: {weights}")
        check_settings_params(params, "bundle", OWN_KEYS)

    @classmethod
    def referenced_files(cls, params: dict[str, Any], base_dir: Path | None) -> list[Path]:
        """The config file and the weights (the bundle's other files do not change the outputs here)."""
        folder = resolve(params["bundle"], base_dir)
        return [
            bundle_config(folder, params.get("config")),
            folder / str(params.get("weights", DEFAULT_WEIGHTS)),
        ]

    def inference_params(self) -> dict[str, Any]:
        return {**_bundle_defaults(self.parser, self.network_key), **super().inference_params()}

    def weights_path(self) -> Path:
        return self.folder / str(self.params.get("weights", DEFAULT_WEIGHTS))

    def build(self) -> torch.nn.Module:
        import torch

        if self.network_key not in self.parser:
            raise ValueError(f"model {self.name}: {self.config_path} has no {self.network_key!r}")
        try:
            net = self.parser.get_parsed_content(self.network_key)
        except Exception as exc:
            raise ValueError(
                f"model {self.name}: cannot instantiate {self.network_key!r} of {self.config_path}: "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
        if not isinstance(net, torch.nn.Module):
            raise ValueError(f"model {self.name}: {self.network_key!r} is a {type(net).__name__}, not a torch module")
        load_weights(net, self.weights_path(), self.name)
        return net

    def fingerprint(self) -> str:
        h = hashlib.sha256(super().fingerprint().encode())
        for path in self.referenced_files(self.params, self.base_dir):
            h.update(checkpoint_sha256(path).encode())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "bundle": str(self.folder), "config": self.config_path.name}


ADAPTERS.add("bundle", BundleNetwork)
