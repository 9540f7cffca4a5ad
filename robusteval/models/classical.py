"""Shared base of the classical (non-network) adapters: a voxel-wise lesion probability on the case's own grid.

The classical methods of the WMH comparison (BIANCA's k-NN, LST's lesion growing) work in each scan's native
space: the images are normalized per the declared method and the adapter's :meth:`probability` gives a lesion
probability per voxel; the mask is ``prob >= threshold``. Physical sizes (smoothing, dilation) are in mm, so the
same fitted model runs on 1 mm, 2 mm or 1x1x3 mm data.
"""

from __future__ import annotations

__all__ = ["VoxelSegmenter", "VoxelSettings", "brain_mask", "relative_coordinates"]

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from robusteval.data.case import Case
from robusteval.errors import CaseError
from robusteval.models.base import ModelAdapter, Prediction, model_input


class VoxelSettings(BaseModel):
    """Settings shared by the classical adapters (in the model's ``params``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    modalities: list[str] = Field(default_factory=lambda: ["flair", "t1"], min_length=1)
    normalization: Literal["zscore_brain", "percentile", "none"] = "zscore_brain"
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)


def brain_mask(x: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Voxels where any channel is non-zero (the skull-stripped brain of a normalized ``(C, X, Y, Z)`` array)."""
    return np.asarray((x != 0).any(axis=0))


def relative_coordinates(mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """``(N, 3)`` coordinates of the ``mask`` voxels (C order) scaled to [0, 1] over the mask's bounding box.

    A stand-in for BIANCA's MNI coordinates that needs no registration: invariant to padding and voxel size."""
    idx = np.argwhere(mask).astype(np.float32)
    if not len(idx):
        return idx
    lo, hi = idx.min(axis=0), idx.max(axis=0)
    return np.asarray((idx - lo) / np.maximum(hi - lo, 1.0), dtype=np.float32)


class VoxelSegmenter(ModelAdapter):
    """Base of the classical adapters; subclasses set ``own_keys`` and implement :meth:`probability`."""

    own_keys: ClassVar[set[str]] = set()

    def __init__(self, name: str, params: dict[str, Any], base_dir: Path | None, device: str) -> None:
        super().__init__(name, params, base_dir, device)
        self.settings = VoxelSettings(**{k: v for k, v in params.items() if k in VoxelSettings.model_fields})

    @classmethod
    def validate_params(cls, params: dict[str, Any], base_dir: Path | None) -> None:
        unknown = set(params) - cls.own_keys - set(VoxelSettings.model_fields)
        if unknown:
            raise ValueError(
                f"unknown params {sorted(unknown)}; known: {sorted(cls.own_keys | set(VoxelSettings.model_fields))}"
            )
        VoxelSettings(**{k: v for k, v in params.items() if k in VoxelSettings.model_fields})

    def channel(self, name: str) -> int:
        """Index of modality ``name`` in the input; CaseError naming the model when it is not declared."""
        if name not in self.settings.modalities:
            raise CaseError(f"model {self.name}: needs modality {name!r}; declared: {self.settings.modalities}")
        return self.settings.modalities.index(name)

    @abstractmethod
    def probability(self, x: NDArray[np.float32], spacing_mm: tuple[float, float, float]) -> NDArray[np.float32]:
        """Lesion probability ``(X, Y, Z)`` in [0, 1] from the normalized images ``(C, X, Y, Z)``."""

    def predict(self, case: Case) -> Prediction:
        s = self.settings
        x = model_input(self.name, case, s.modalities, s.normalization)
        prob = np.clip(self.probability(x, case.spacing_mm), 0.0, 1.0).astype(np.float32)
        return Prediction(prob=prob, mask=prob >= s.threshold)
