"""The Case model every data source loads into, and the record that lists a case before loading it."""

from __future__ import annotations

__all__ = ["Case", "CaseRecord", "spacing_from_affine"]

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]
MaskArray = NDArray[np.bool_]


def spacing_from_affine(affine: NDArray[np.float64]) -> tuple[float, float, float]:
    """Voxel size in mm along the three array axes (column norms of the affine's 3x3 part)."""
    zooms = np.sqrt((np.asarray(affine, dtype=np.float64)[:3, :3] ** 2).sum(axis=0))
    return (float(zooms[0]), float(zooms[1]), float(zooms[2]))


@dataclass(frozen=True)
class Case:
    """One test case in memory.

    ``images`` maps a modality name (``flair``, ``t1``...) to a 3D float32 array; all share ``affine``
    (voxel -> world mm, RAS). ``label`` is the binary reference; ``ignore`` marks voxels excluded from every
    metric (e.g. WMH-2017 label 2), or is None. ``annotations`` maps a rater name (``rater2``...) to that
    rater's binary mask on the same grid: other annotators of the case, scored by the ``rater`` adapter as the
    human baseline. Spatial shifts move them with the label; label noise leaves them alone.
    """

    case_id: str
    subject_id: str
    site: str
    scanner: str
    images: Mapping[str, FloatArray]
    label: MaskArray
    affine: NDArray[np.float64]
    ignore: MaskArray | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    annotations: Mapping[str, MaskArray] = field(default_factory=dict)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return spacing_from_affine(self.affine)

    @property
    def shape(self) -> tuple[int, int, int]:
        s = self.label.shape
        return (int(s[0]), int(s[1]), int(s[2]))

    def stacked(self, modalities: list[str]) -> FloatArray:
        """Channels-first array ``(C, X, Y, Z)`` of ``modalities`` in the given order."""
        missing = [m for m in modalities if m not in self.images]
        if missing:
            have = ", ".join(sorted(self.images))
            raise KeyError(f"case {self.case_id} has no modality {missing}; it has: {have}")
        return np.stack([self.images[m] for m in modalities]).astype(np.float32, copy=False)

    def with_(self, **changes: Any) -> Case:
        """A copy with some fields replaced (arrays are not copied)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class CaseRecord:
    """A listed case: its metadata, and a loader that reads it (and may raise CaseError)."""

    case_id: str
    subject_id: str
    site: str
    scanner: str
    partition: str
    loader: Callable[[], Case]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[Path, ...] = ()  # the files the loader reads (their bytes key the resume cache)

    def load(self) -> Case:
        return self.loader()

    def fingerprint(self) -> str:
        """sha256 of the case's identity and the bytes of its files (a missing file hashes as absent)."""
        h = hashlib.sha256(repr((self.case_id, self.subject_id, self.site, self.scanner)).encode())
        for path in self.files:
            h.update(path.name.encode())
            h.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"absent")
        return h.hexdigest()

    def get(self, key: str) -> Any:
        """A metadata value by column name (``site``, ``scanner``, ``subject_id`` or any extra column)."""
        if key in ("case_id", "subject_id", "site", "scanner", "partition"):
            return getattr(self, key)
        return self.metadata.get(key)
