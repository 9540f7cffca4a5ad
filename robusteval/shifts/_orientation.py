"""Axis-aligned reorientations (signed axis permutations) applied to images, label, ignore and annotations
together."""

from __future__ import annotations

__all__ = ["parse_axes", "reorient", "rot90_as_signed_permutation"]

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.shifts._common import check_int
from robusteval.shifts.base import ShiftOptionError


def parse_axes(shift: str, option: str, value: Any, *, size: int | None = None) -> list[int]:
    """A list of distinct array axes (0, 1, 2), of length ``size`` when given (else 1..3 axes)."""
    ok = (
        isinstance(value, list | tuple)
        and len(set(value)) == len(value)
        and (len(value) == size if size is not None else 1 <= len(value) <= 3)
    )
    if not ok:
        n = f"{size}" if size is not None else "1 to 3"
        raise ShiftOptionError(
            f"shift {shift!r}: option {option!r} must be a list of {n} distinct axes from 0, 1, 2; got {value!r}"
        )
    return [check_int(shift, option, a, 0, 2) for a in value]


def rot90_as_signed_permutation(k: int, axes: Sequence[int]) -> tuple[list[int], list[int]]:
    """``np.rot90(m, k, axes)`` as ``(order, flips)`` for :func:`reorient`."""
    a, b = int(axes[0]), int(axes[1])
    order = [0, 1, 2]
    k %= 4
    if k == 0:
        return order, []
    if k == 2:
        return order, sorted([a, b])
    order[a], order[b] = b, a
    return order, [a] if k == 1 else [b]


def _apply(volume: NDArray[Any], order: Sequence[int], flips: Sequence[int]) -> NDArray[Any]:
    out = np.transpose(volume, order)
    if flips:
        out = np.flip(out, axis=tuple(flips))
    return np.ascontiguousarray(out)


def reorient(case: Case, order: Sequence[int], flips: Sequence[int], *, keep_header: bool) -> Case:
    """The case with every array transposed by ``order`` and then flipped along the (new) axes ``flips``.

    With ``keep_header=False`` the affine is updated so every voxel keeps its world position (the same
    scan stored in another orientation); with ``keep_header=True`` the affine is left as it was (the header
    no longer matches the data).
    """
    order, flips = [int(o) for o in order], [int(f) for f in flips]
    if order == [0, 1, 2] and not flips:
        return case
    new_shape = [case.shape[o] for o in order]
    affine = np.asarray(case.affine, dtype=np.float64)
    if not keep_header:
        m = np.zeros((4, 4))  # new voxel index -> old voxel index
        m[3, 3] = 1.0
        for j, o in enumerate(order):
            if j in flips:
                m[o, j] = -1.0
                m[o, 3] = new_shape[j] - 1
            else:
                m[o, j] = 1.0
        affine = affine @ m
    return case.with_(
        images={name: _apply(img, order, flips) for name, img in case.images.items()},
        label=_apply(case.label, order, flips),
        ignore=None if case.ignore is None else _apply(case.ignore, order, flips),
        annotations={rater: _apply(mask, order, flips) for rater, mask in case.annotations.items()},
        affine=affine,
    )
