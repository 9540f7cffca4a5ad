"""``monai`` adapter: a MONAI network by class name + kwargs + a state-dict checkpoint."""

from __future__ import annotations

__all__ = ["MonaiNetwork", "load_state_dict", "load_weights", "network_class"]

import pickle
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robusteval.models.base import (
    ADAPTERS,
    TorchSegmenter,
    check_settings_params,
    checkpoint_sha256,
    error_reason,
    resolve,
)

if TYPE_CHECKING:  # torch is imported where a network is built or run: listing and validating stay quick
    import torch

OWN_KEYS = {"architecture", "kwargs", "checkpoint"}


_RESAVE = (
    "re-save the weights alone with torch.save(model.state_dict(), path), or export the network with "
    "torch.jit.save for the torchscript adapter"
)


def _refusal(exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, and what to do instead (never: unpickle it)."""
    text = str(exc)
    if "TorchScript archive" in text:
        return (
            "a TorchScript archive, not a state dict: give it to the torchscript adapter (params.file), "
            "or save model.state_dict() with torch.save"
        )
    if isinstance(exc, pickle.UnpicklingError):
        found = re.search(r"GLOBAL ([\w.]+)", text)
        what = f"the Python object {found.group(1)}" if found else "Python objects, not only tensors"
        return f"refused: it holds {what}, and unpickling it could run code; {_RESAVE}"
    return f"unreadable ({type(exc).__name__}: {error_reason(exc)}); is it a torch.save file?"


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict read with ``torch.load(weights_only=True)`` (no arbitrary pickles), floats as float32.

    Accepts a bare state dict or one under ``state_dict`` / ``model`` (Lightning, MONAI ``CheckpointSaver``);
    a ``module.`` prefix on every key (saved from ``DataParallel``) is removed."""
    import torch

    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol before refusing: our message says it
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"checkpoint {path}: {_refusal(exc)}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"checkpoint {path}: expected a state dict of tensors")
    if state and all(str(k).startswith("module.") for k in state):
        state = {str(k)[len("module.") :]: v for k, v in state.items()}
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def load_weights(net: torch.nn.Module, path: Path, model: str) -> None:
    """Load the state dict at ``path`` into ``net`` (strict); ValueError naming the model on a mismatch."""
    state = load_state_dict(path)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        msg = " ".join(str(exc).split())
        raise ValueError(f"model {model}: checkpoint {path} does not fit the network: {msg[:500]}") from None


def network_class(name: str) -> type[torch.nn.Module]:
    """The architecture ``name``: one of robusteval's own (``NETWORKS``), else a ``monai.networks.nets`` class."""
    import torch
    from monai.networks import nets

    from robusteval.models.nets import NETWORKS

    if name in NETWORKS:
        return NETWORKS.get(name)
    cls = getattr(nets, name, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ValueError(
            f"architecture {name!r} is neither a network in monai.networks.nets nor one of robusteval's "
            f"({', '.join(NETWORKS.names())})"
        )
    return cls


class MonaiNetwork(TorchSegmenter):
    doc = "A monai.networks.nets (or robusteval) class by name + kwargs + a state-dict checkpoint (weights_only)."

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        for key in ("architecture", "checkpoint"):
            if key not in params:
                raise ValueError(f"params.{key} is required for the monai adapter")
        network_class(str(params["architecture"]))
        ckpt = resolve(params["checkpoint"], base_dir)
        if not ckpt.is_file():
            raise ValueError(f"params.checkpoint: file not found: {ckpt}")
        check_settings_params(params, "monai", OWN_KEYS)

    def checkpoint_path(self) -> Path:
        return resolve(self.params["checkpoint"], self.base_dir)

    def build(self) -> torch.nn.Module:
        net = network_class(str(self.params["architecture"]))(**dict(self.params.get("kwargs", {})))
        load_weights(net, self.checkpoint_path(), self.name)
        return net

    def fingerprint(self) -> str:
        return f"{super().fingerprint()[:32]}-{checkpoint_sha256(self.checkpoint_path())[:32]}"


ADAPTERS.add("monai", MonaiNetwork)
