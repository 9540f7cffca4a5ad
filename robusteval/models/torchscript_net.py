"""``torchscript`` adapter: a network saved by ``torch.jit.save``; no Python class needed.

``torch.jit.load`` reads TorchScript code and tensors only: its unpickler resolves TorchScript types, never
arbitrary Python callables, so a pickle (or a ``torch.save`` checkpoint) passed here is refused unread.
TorchScript is deprecated upstream (``torch.jit.load`` warns in recent torch) but remains the format many
tools export; its DeprecationWarning is silenced at load.
"""

from __future__ import annotations

__all__ = ["TorchScriptNetwork", "check_torchscript_archive"]

import warnings
import zipfile
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

OWN_KEYS = {"file"}


def check_torchscript_archive(path: Path) -> None:
    """ValueError unless ``path`` is a TorchScript archive (a zip holding ``code/`` and ``constants.pkl``).

    Checked before ``torch.jit.load`` so that a plain pickle or a ``torch.save`` state dict gets a clear
    message rather than a stream-reader error."""
    if not path.is_file():
        raise ValueError(f"params.file: file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"params.file: {path} is not a TorchScript archive (not a zip file; save with torch.jit.save)")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    if not any("/code/" in n for n in names) or not any(n.endswith("constants.pkl") for n in names):
        raise ValueError(
            f"params.file: {path} is a zip but not a TorchScript archive (no code/ or constants.pkl; a "
            "torch.save checkpoint? use the monai or python adapter for state dicts, or torch.jit.save "
            "the model)"
        )


class TorchScriptNetwork(TorchSegmenter):
    doc = "A TorchScript file (torch.jit.save of a scripted or traced network) + the shared inference settings."

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        if "file" not in params:
            raise ValueError("params.file is required for the torchscript adapter")
        check_torchscript_archive(resolve(params["file"], base_dir))
        check_settings_params(params, "torchscript", OWN_KEYS)

    @classmethod
    def referenced_files(cls, params: dict[str, Any], base_dir: Path | None) -> list[Path]:
        return [resolve(params["file"], base_dir)]

    def file_path(self) -> Path:
        return resolve(self.params["file"], self.base_dir)

    def build(self) -> torch.nn.Module:
        import torch

        path = self.file_path()
        check_torchscript_archive(path)
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated upstream (torch >= 2.5), still supported
                warnings.filterwarnings(
                    "ignore", message=".*torch.jit.load.* is deprecated", category=DeprecationWarning
                )
                net: torch.nn.Module = torch.jit.load(  # type: ignore[no-untyped-call]
                    str(path), map_location=self.torch_device
                )
        except RuntimeError as exc:
            reason = error_reason(exc)
            if "Unknown type name" in reason:  # a pickled Python object where TorchScript expects its own types
                reason += (
                    " (the archive names a Python object, not a TorchScript type: it was not written by "
                    "torch.jit.save, or was altered; export the network again with torch.jit.save)"
                )
            raise ValueError(f"model {self.name}: cannot load TorchScript file {path}: {reason}") from None
        net.float()
        return net

    def fingerprint(self) -> str:
        return f"{super().fingerprint()[:32]}-{checkpoint_sha256(self.file_path())[:32]}"


ADAPTERS.add("torchscript", TorchScriptNetwork)
