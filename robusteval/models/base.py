"""Model adapters: how a model is loaded and run on a :class:`Case`.

Every adapter returns a :class:`Prediction` on the case's own grid: a probability map in [0, 1] (kept for
``auc_pr`` and uncertainty) and the binary mask ``prob >= threshold``. Torch-network adapters share
:class:`TorchSegmenter`: declared input modalities and their order, per-model normalization, a working
orientation (default RAS: the arrays permuted and flipped to it by the affine and the prediction back, as
MONAI's ``Orientationd`` does), an optional working voxel spacing (input resampled to it, probabilities
resampled back, as nnU-Net does), MONAI sliding-window inference with Gaussian blending, mixed precision on
GPU, and optional flip test-time augmentation (its voxel-wise standard deviation is the uncertainty map).
A network output that is not finite (NaN, Inf) fails the case instead of becoming an empty mask.
"""

from __future__ import annotations

__all__ = [
    "ADAPTERS",
    "InferenceSettings",
    "ModelAdapter",
    "Prediction",
    "TorchSegmenter",
    "check_settings_params",
    "error_reason",
    "model_input",
    "normalize",
    "spacing_shape",
    "to_spacing",
]

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from robusteval.data.case import Case
from robusteval.errors import CaseError
from robusteval.models.orientation import Reorientation, check_axcodes
from robusteval.registry import Registry

if TYPE_CHECKING:  # torch is imported where a network runs: listing adapters and validating stay quick
    import torch


@dataclass(frozen=True)
class Prediction:
    """A model's output on one case, on the case's grid."""

    prob: NDArray[np.float32]
    mask: NDArray[np.bool_]
    uncertainty: NDArray[np.float32] | None = None
    timings_s: dict[str, float] = field(default_factory=dict)


class InferenceSettings(BaseModel):
    """Settings shared by torch-network adapters (all in the model's ``params``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    modalities: list[str] = Field(default_factory=lambda: ["flair", "t1"], min_length=1)
    normalization: Literal["zscore_brain", "percentile", "none"] = "zscore_brain"
    orientation: str | None = "RAS"
    """Working orientation (axis codes of the world RAS+ frame, e.g. ``RAS``, ``LPS``); None: as stored."""
    spacing_mm: tuple[float, float, float] | None = None
    roi_size: tuple[int, int, int] = (64, 64, 64)
    overlap: float = Field(default=0.25, ge=0.0, lt=1.0)
    sw_batch_size: int = Field(default=2, ge=1)
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    output: Literal["sigmoid", "softmax"] = "sigmoid"
    tta_flips: bool = False
    amp: bool = True

    @field_validator("orientation")
    @classmethod
    def _axcodes(cls, value: str | None) -> str | None:
        return None if value is None else check_axcodes(value)


def normalize(x: NDArray[np.float32], method: str) -> NDArray[np.float32]:
    """Per-channel intensity normalization of a ``(C, X, Y, Z)`` array.

    ``zscore_brain``: zero mean, unit std over voxels > 0 (the skull-stripped brain), background stays 0;
    ``percentile``: clip to the 0.5-99.5th percentiles of the brain and scale to [0, 1]; ``none``: as is.
    """
    out = np.zeros_like(x, dtype=np.float32)
    for c in range(x.shape[0]):
        ch = x[c]
        brain = ch > 0
        if method == "none" or not brain.any():
            out[c] = ch
            continue
        vals = ch[brain]
        if method == "zscore_brain":
            out[c] = np.where(brain, (ch - vals.mean()) / max(float(vals.std()), 1e-6), 0.0)
        else:
            lo, hi = np.percentile(vals, [0.5, 99.5])
            out[c] = np.where(brain, np.clip((ch - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0), 0.0)
    return out


def model_input(
    model: str, case: Case, modalities: list[str], method: str, orientation: Reorientation | None = None
) -> NDArray[np.float32]:
    """The normalized ``(C, X, Y, Z)`` input of ``model``; CaseError naming the model for a missing modality.

    ``orientation`` is applied before normalizing, so the brain statistics are summed in the same voxel order
    whatever the stored orientation, and the input is bit-identical."""
    try:
        stacked = case.stacked(modalities)
    except KeyError as exc:
        raise CaseError(f"model {model}: {exc.args[0]}") from None
    return normalize(stacked if orientation is None else orientation.forward(stacked), method)


def spacing_shape(
    shape: tuple[int, ...], spacing_mm: tuple[float, float, float], target_mm: tuple[float, float, float]
) -> tuple[int, int, int]:
    """Voxel grid spanning the field of view of ``shape`` (at ``spacing_mm``) with voxels of ``target_mm``."""
    a, b, c = (max(1, round(n * s / t)) for n, s, t in zip(shape, spacing_mm, target_mm, strict=True))
    return (a, b, c)


def to_spacing(
    x: torch.Tensor, spacing_mm: tuple[float, float, float], target_mm: tuple[float, float, float]
) -> torch.Tensor:
    """Trilinear resampling of a ``(N, C, X, Y, Z)`` tensor to voxel size ``target_mm`` (same field of view)."""
    import torch.nn.functional as F

    shape = spacing_shape(tuple(x.shape[2:]), spacing_mm, target_mm)
    if tuple(x.shape[2:]) == shape:
        return x
    return F.interpolate(x, size=shape, mode="trilinear", align_corners=False)


def checkpoint_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ModelAdapter(ABC):
    """Loads one model described by the protocol and predicts on cases."""

    doc: ClassVar[str]
    not_profiled: ClassVar[str] = ""
    """Why the adapter has no efficiency profile at all ('' = it is profiled), e.g. a human annotation."""

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        self.name = name
        self.params = params
        self.base_dir = base_dir
        self.device = device

    @classmethod  # noqa: B027 (an optional hook: the default accepts any params)
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        """Raise ValueError (naming the parameter) when ``params`` cannot work; called at protocol load."""

    @classmethod  # noqa: B027 (an optional hook: the default has nothing to check)
    def check_files(
        cls, params: dict[str, Any], base_dir: Path | None, targets: Sequence[Mapping[str, str]] | None = None
    ) -> None:
        """Raise ValueError (naming the parameter) when the files the model reads cannot serve a run.

        Called by ``validate`` and at the start of ``run``, not at protocol load (``export`` loads the protocol
        to write the test sets an external tool's files are made from). ``targets``, when known: each planned
        work item as :func:`robusteval.engine.work.prediction_targets` describes it."""

    @classmethod
    def referenced_files(cls, params: dict[str, Any], base_dir: Path | None) -> list[Path]:
        """Files whose bytes determine the outputs (weights...): every string param naming an existing file."""
        found = []
        for value in params.values():
            if isinstance(value, str) and value:
                path = resolve(value, base_dir)
                if path.is_file():
                    found.append(path)
        return found

    @abstractmethod
    def predict(self, case: Case) -> Prediction:
        """Predict on ``case``; raise CaseError for a case this model cannot handle."""

    def segmenter(self) -> ModelAdapter:
        """The adapter doing the work: itself, or the one a wrapper (the zoo) delegates to."""
        return self

    def fingerprint(self) -> str:
        """A content hash of everything that determines this model's outputs (weights and settings)."""
        return hashlib.sha256(repr(sorted(self.params.items())).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """Efficiency and provenance facts for the report (parameters, ...)."""
        return {}


def resolve(path: str | Path, base_dir: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or base_dir is None else base_dir / p


def error_reason(exc: BaseException) -> str:
    """The first non-empty line of a library's error (TorchScript's may start with a blank line), without
    torch's boilerplate after it."""
    line = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
    line = line.split(". This is an internal")[0].rstrip(":")  # torch's stream reader appends its guesses
    return line[:300] or type(exc).__name__


def check_settings_params(params: dict[str, Any], adapter: str, own_keys: set[str]) -> None:
    """ValueError for a key that is neither one of the adapter's own nor an :class:`InferenceSettings` field,
    or for invalid inference settings (pydantic's ValidationError is a ValueError naming the field)."""
    unknown = set(params) - own_keys - set(InferenceSettings.model_fields)
    if unknown:
        raise ValueError(f"unknown params {sorted(unknown)} for the {adapter} adapter")
    InferenceSettings(**{k: v for k, v in params.items() if k in InferenceSettings.model_fields})


def _input_rejection(exc: RuntimeError) -> str | None:
    """The line of a network error that says the input's channels or size do not fit (None: another error).

    Eager modules put it on the first line; TorchScript puts its interpreter traceback (code lines) first and
    the message last, so lines are searched from the end, a line naming channels first."""
    lines = [ln.strip() for ln in reversed(str(exc).splitlines()) if ln.strip()]
    for word in ("channels", "size"):
        for ln in lines:
            if word in ln:
                return ln
    return None


class TorchSegmenter(ModelAdapter):
    """Shared inference for adapters that produce a ``torch.nn.Module``; subclasses implement :meth:`build`."""

    settings: InferenceSettings

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        super().__init__(name, params, base_dir, device)
        self.settings = InferenceSettings(**self.inference_params())
        self.network = self.build().to(self.torch_device).eval()
        self.in_channels = len(self.settings.modalities)

    @property
    def torch_device(self) -> torch.device:
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def inference_params(self) -> dict[str, Any]:
        """The part of ``params`` that configures :class:`InferenceSettings`."""
        return {k: v for k, v in self.params.items() if k in InferenceSettings.model_fields}

    @abstractmethod
    def build(self) -> torch.nn.Module:
        """The network with its weights loaded."""

    def reorientation(self, case: Case) -> Reorientation:
        """From the case's stored array axes to the working ``orientation`` (by its affine)."""
        return Reorientation.between(case.affine, self.settings.orientation)

    def working_shape(self, case: Case) -> tuple[int, int, int]:
        """The grid (voxels) the network runs on: the case's in the working orientation, resampled to
        ``spacing_mm`` when set."""
        r = self.reorientation(case)
        if self.settings.spacing_mm is None:
            return r.shape(case.shape)
        return spacing_shape(r.shape(case.shape), r.spacing_mm(case.spacing_mm), self.settings.spacing_mm)

    def describe(self) -> dict[str, Any]:
        """``parameters`` (count of all network parameters, trainable or not) and the inference settings."""
        n = sum(p.numel() for p in self.network.parameters())
        return {"parameters": int(n), "inference": self.settings.model_dump(mode="json")}

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch
        from monai.inferers.utils import sliding_window_inference

        s = self.settings
        use_amp = s.amp and x.device.type == "cuda"
        with torch.autocast(device_type=x.device.type, enabled=use_amp):
            logits = sliding_window_inference(
                x, s.roi_size, s.sw_batch_size, self.network, overlap=s.overlap, mode="gaussian"
            )
        if isinstance(logits, (list, tuple)):  # U-Net++ and deep-supervision nets: full resolution first
            logits = logits[0]
        assert isinstance(logits, torch.Tensor)
        logits = logits.float()
        self._check_finite(logits)
        if s.output == "sigmoid":
            if logits.shape[1] != 1:
                raise CaseError(f"model {self.name}: output 'sigmoid' expects 1 channel, got {logits.shape[1]}")
            return torch.sigmoid(logits)
        return torch.softmax(logits, dim=1)[:, 1:2]

    def predict(self, case: Case) -> Prediction:
        import torch
        import torch.nn.functional as F

        s = self.settings
        orient = self.reorientation(case)
        x_np = model_input(self.name, case, s.modalities, s.normalization, orient)
        shape = orient.shape(case.shape)  # the case grid in the working orientation
        x = torch.from_numpy(x_np)[None].to(self.torch_device)
        if s.spacing_mm is not None:
            x = to_spacing(x, orient.spacing_mm(case.spacing_mm), s.spacing_mm)
        with torch.inference_mode():
            try:
                probs = [self._forward(x)]
                if s.tta_flips:
                    for dims in ((2,), (3,), (4,)):
                        probs.append(torch.flip(self._forward(torch.flip(x, dims)), dims))
            except RuntimeError as exc:
                msg = _input_rejection(exc)
                if msg is not None:
                    raise CaseError(
                        f"model {self.name}: the network rejected the input of {self.in_channels} channel(s) "
                        f"{s.modalities} in windows of {list(s.roi_size)} voxels: {msg}"
                    ) from None
                raise
            stack = torch.cat(probs, dim=1)
            if s.spacing_mm is not None:
                stack = F.interpolate(stack, size=shape, mode="trilinear", align_corners=False)
            prob = orient.backward(stack.mean(dim=1)[0].clamp(0.0, 1.0).cpu().numpy().astype(np.float32))
            unc = orient.backward(stack.std(dim=1)[0].cpu().numpy().astype(np.float32)) if s.tta_flips else None
        return Prediction(prob=prob, mask=prob >= s.threshold, uncertainty=unc)

    def _check_finite(self, logits: torch.Tensor) -> None:
        """CaseError when the network's output holds NaN or Inf (a NaN would otherwise pass the clamp and
        become background under ``prob >= threshold``: an empty mask scored as a valid prediction)."""
        import torch

        finite = torch.isfinite(logits)
        if bool(finite.all()):
            return
        n_nan = int(torch.isnan(logits).sum())
        n_inf = int((~finite).sum()) - n_nan
        raise CaseError(
            f"model {self.name}: non-finite network output ({n_nan} NaN and {n_inf} Inf of {logits.numel()} "
            "values): the prediction is invalid, not empty"
        )


ADAPTERS: Registry[type[ModelAdapter]] = Registry("model adapter")
