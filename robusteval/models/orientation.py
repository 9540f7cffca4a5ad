"""A model's working orientation: the case's arrays reoriented to it and the prediction back, without resampling.

Orientation codes are nibabel's (and MONAI ``Orientationd``'s) axis codes of the world RAS+ frame: ``RAS``
means array axis 0 runs to the Right, axis 1 to the Anterior, axis 2 to the Superior. The array axes closest to
the target world axes are found from the affine (``nibabel.orientations.io_orientation``), then permuted and
flipped: exact, voxel for voxel, so mapping back gives the case's grid unchanged.
"""

from __future__ import annotations

__all__ = ["Reorientation", "check_axcodes"]

from dataclasses import dataclass
from typing import Any

import numpy as np
from nibabel.orientations import axcodes2ornt, io_orientation, ornt_transform
from numpy.typing import NDArray

_PAIRS = ("LR", "PA", "IS")


def check_axcodes(codes: str) -> str:
    """``codes`` upper-cased; ValueError unless it is three letters, one from each of L/R, P/A, I/S."""
    up = str(codes).upper()
    if len(up) != 3 or sorted(_PAIRS.index(p) for c in up for p in _PAIRS if c in p) != [0, 1, 2]:
        raise ValueError(
            f"orientation must be three axis codes, one of L/R, one of A/P and one of S/I (e.g. 'RAS'), got {codes!r}"
        )
    return up


def _ornt_apply(x: NDArray[Any], ornt: NDArray[np.float64]) -> NDArray[Any]:
    """``x`` with its last three axes flipped and permuted by the nibabel orientation ``ornt`` (input axis i
    becomes output axis ``ornt[i, 0]``, reversed when ``ornt[i, 1] == -1``); leading axes untouched."""
    lead = x.ndim - 3
    flips = tuple(lead + i for i in range(3) if ornt[i, 1] < 0)
    out = np.flip(x, flips) if flips else x
    source = np.argsort(ornt[:, 0])  # output axis j comes from input axis source[j]
    out = np.transpose(out, (*range(lead), *(lead + int(s) for s in source)))
    return np.ascontiguousarray(out)


@dataclass(frozen=True)
class Reorientation:
    """The signed axis permutation from a case's stored array axes to a model's working orientation."""

    to_model: NDArray[np.float64]
    """nibabel orientation (3 x 2): case array axis i -> model axis ``to_model[i, 0]``, flipped when -1."""

    @classmethod
    def between(cls, affine: NDArray[np.float64], axcodes: str | None) -> Reorientation:
        """From the arrays of a case with ``affine`` (voxel -> world mm, RAS+) to ``axcodes`` (None: as stored)."""
        if axcodes is None:
            return cls(np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]))
        start = io_orientation(np.asarray(affine, dtype=np.float64))  # type: ignore[no-untyped-call]
        end = axcodes2ornt(check_axcodes(axcodes))  # type: ignore[no-untyped-call]
        return cls(np.asarray(ornt_transform(start, end), dtype=np.float64))  # type: ignore[no-untyped-call]

    @property
    def identity(self) -> bool:
        return bool(np.array_equal(self.to_model, [[0, 1], [1, 1], [2, 1]]))

    @property
    def to_case(self) -> NDArray[np.float64]:
        """The inverse orientation: model axis j -> case array axis."""
        inv = np.zeros((3, 2))
        for i, (j, flip) in enumerate(self.to_model):
            inv[int(j)] = (i, flip)
        return inv

    def shape(self, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """A case grid's shape (voxels) in the model's orientation."""
        out = [0, 0, 0]
        for i, (j, _) in enumerate(self.to_model):
            out[int(j)] = shape[i]
        return (out[0], out[1], out[2])

    def spacing_mm(self, spacing_mm: tuple[float, float, float]) -> tuple[float, float, float]:
        """A case's voxel size (mm per array axis) along the model's axes."""
        out = [0.0, 0.0, 0.0]
        for i, (j, _) in enumerate(self.to_model):
            out[int(j)] = spacing_mm[i]
        return (out[0], out[1], out[2])

    def forward(self, x: NDArray[Any]) -> NDArray[Any]:
        """``(..., X, Y, Z)`` case-grid array in the model's orientation (a contiguous copy unless identity)."""
        return x if self.identity else _ornt_apply(x, self.to_model)

    def backward(self, x: NDArray[Any]) -> NDArray[Any]:
        """``(..., X', Y', Z')`` model-orientation array back on the case's grid (inverse of :meth:`forward`)."""
        return x if self.identity else _ornt_apply(x, self.to_case)
