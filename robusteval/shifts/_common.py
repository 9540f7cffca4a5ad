"""Helpers shared by the shift modules: option checks, seeds, TorchIO round trips, foreground masks.

Conventions used by every shift:

- arrays are indexed ``(x, y, z)`` like the case's affine (voxel -> world mm, RAS); lengths in mm unless a
  name ends in ``_vox``;
- a random *field* (noise, control-point grid) is recorded as an integer ``seed`` (numpy PCG64), not as the
  field itself, so ``shift_params`` stays small; everything else is recorded by value;
- images stay float32, labels, ignore masks and annotations stay bool;
- a shift that moves the label moves the ignore mask and every annotation (``Case.annotations``) the same way.
"""

from __future__ import annotations

__all__ = [
    "BACKENDS",
    "DEVICES",
    "MAX_SEED",
    "TabledShift",
    "check_backend",
    "check_choice",
    "check_int",
    "check_number",
    "clip_like",
    "foreground",
    "from_subject",
    "map_images",
    "modality_rng",
    "new_seed",
    "reject_unknown",
    "to_subject",
]

import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.shifts.base import Shift, ShiftOptionError

if TYPE_CHECKING:  # torch and TorchIO are imported when a shift is applied, not when one is built or listed
    import torchio as tio

T = TypeVar("T")
FloatArray = NDArray[np.float32]
MaskArray = NDArray[np.bool_]

BACKENDS = ("torchio", "torch")
DEVICES = ("auto", "cpu", "cuda")
MAX_SEED = 2**32  # seeds are < 2**32: exact in JSON readers that use doubles
_IMAGE_KEY = "image:"
_LABEL_KEY = "__label__"
_IGNORE_KEY = "__ignore__"
_ANNOTATION_KEY = "__annotation__:"


def reject_unknown(shift: str, unknown: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Raise :class:`ShiftOptionError` naming options ``shift`` does not take."""
    if unknown:
        have = ", ".join(allowed) if allowed else "none"
        raise ShiftOptionError(f"shift {shift!r}: unknown option(s) {sorted(unknown)}; allowed options: {have}")


def check_choice(shift: str, option: str, value: object, allowed: Sequence[T]) -> T:
    """``value`` if it is one of ``allowed``, else a :class:`ShiftOptionError` listing them."""
    for a in allowed:
        if type(value) is type(a) and value == a:
            return a
    listed = ", ".join(repr(a) for a in allowed)
    raise ShiftOptionError(f"shift {shift!r}: option {option!r} must be one of {listed}; got {value!r}")


def check_int(shift: str, option: str, value: object, lo: int, hi: int) -> int:
    """``value`` if it is an integer in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= int(value) <= hi:
        raise ShiftOptionError(f"shift {shift!r}: option {option!r} must be an integer in {lo}..{hi}; got {value!r}")
    return int(value)


def check_number(shift: str, option: str, value: object, lo: float, hi: float) -> float:
    """``value`` if it is a finite number in ``[lo, hi]``."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or not np.isfinite(float(value)) or not lo <= float(value) <= hi:  # type: ignore[arg-type]
        raise ShiftOptionError(f"shift {shift!r}: option {option!r} must be a number in [{lo}, {hi}]; got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_backend(shift: str, backend: object, device: object) -> tuple[str, str]:
    """Validated ``(backend, device)`` options of the shifts that have a PyTorch implementation.

    ``backend``: ``torchio`` (the reference) or ``torch`` (same parameters, batched, CPU or CUDA);
    ``device`` (torch backend only): ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    """
    b = check_choice(shift, "backend", backend, BACKENDS)
    d = check_choice(shift, "device", device, DEVICES)
    if d == "cuda" and not _cuda_available():
        raise ShiftOptionError(
            f"shift {shift!r}: option 'device' is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'"
        )
    return b, d


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def new_seed(rng: np.random.Generator) -> int:
    """An integer seed in ``[0, 2**32)`` drawn from ``rng`` (for fields recorded by seed)."""
    return int(rng.integers(0, MAX_SEED))


def modality_rng(seed: int, modality: str) -> np.random.Generator:
    """An independent stream per modality from one recorded seed (stable across processes and platforms)."""
    return np.random.default_rng([int(seed), zlib.crc32(modality.encode())])


def foreground(image: FloatArray) -> MaskArray:
    """Voxels above 10% of the image's 99th percentile (the head; background air and skull-stripped zeros out).

    Falls back to every voxel when that leaves fewer than 8.
    """
    top = float(np.percentile(image, 99.0))
    mask: MaskArray = image > 0.1 * top if top > 0 else image > top
    if int(mask.sum()) < 8:
        return np.ones(image.shape, dtype=bool)
    return mask


def clip_like(out: NDArray[np.floating], reference: FloatArray) -> FloatArray:
    """``out`` as float32, clipped at 0 when ``reference`` has no negative values (magnitude images stay >= 0)."""
    arr = np.asarray(out, dtype=np.float32)
    if float(reference.min()) >= 0.0:
        arr = np.maximum(arr, np.float32(0.0))
    return np.ascontiguousarray(arr)


def map_images(case: Case, fn: Callable[[str, FloatArray], NDArray[np.floating]]) -> Case:
    """The case with ``fn(modality, image)`` applied to every image (output cast to float32)."""
    return case.with_(images={m: np.ascontiguousarray(fn(m, img), dtype=np.float32) for m, img in case.images.items()})


def _tio_image(kind: type[tio.Image], array: NDArray[Any], affine: NDArray[np.float64]) -> tio.Image:
    import torch

    return kind(tensor=torch.from_numpy(np.ascontiguousarray(array)[None]), affine=affine)  # type: ignore[no-untyped-call]


def _tio_data(subject: tio.Subject, key: str) -> NDArray[Any]:
    image = cast("tio.Image", subject[key])
    return np.asarray(image.data[0].numpy())


def to_subject(case: Case, *, with_label: bool = True) -> tio.Subject:
    """A TorchIO subject holding the case's images (ScalarImage) and, optionally, label, ignore and annotations
    (LabelMap)."""
    import torchio as tio

    affine = np.asarray(case.affine, dtype=np.float64)
    items = {
        _IMAGE_KEY + m: _tio_image(tio.ScalarImage, img.astype(np.float32), affine) for m, img in case.images.items()
    }
    if with_label:
        items[_LABEL_KEY] = _tio_image(tio.LabelMap, case.label.astype(np.uint8), affine)
        if case.ignore is not None:
            items[_IGNORE_KEY] = _tio_image(tio.LabelMap, case.ignore.astype(np.uint8), affine)
        for rater, mask in case.annotations.items():
            items[_ANNOTATION_KEY + rater] = _tio_image(tio.LabelMap, mask.astype(np.uint8), affine)
    return tio.Subject(**items)


def from_subject(case: Case, subject: tio.Subject) -> Case:
    """The case with images (and label/ignore/annotations, if the subject holds them) read back from
    ``subject``."""
    images = {m: np.ascontiguousarray(_tio_data(subject, _IMAGE_KEY + m), dtype=np.float32) for m in case.images}
    changes: dict[str, Any] = {"images": images}
    if _LABEL_KEY in subject:
        changes["label"] = np.ascontiguousarray(_tio_data(subject, _LABEL_KEY) > 0.5)
        changes["affine"] = np.asarray(cast("tio.Image", subject[_LABEL_KEY]).affine, dtype=np.float64)
    if _IGNORE_KEY in subject:
        changes["ignore"] = np.ascontiguousarray(_tio_data(subject, _IGNORE_KEY) > 0.5)
    if _LABEL_KEY in subject and case.annotations:
        changes["annotations"] = {
            rater: np.ascontiguousarray(_tio_data(subject, _ANNOTATION_KEY + rater) > 0.5) for rater in case.annotations
        }
    return case.with_(**changes)


class TabledShift(Shift):
    """A shift whose strength at each severity is a fixed row of ``table`` (severity 0: ``identity``).

    :meth:`level` returns that row; :meth:`sample` records it verbatim in the parameters (plus any random
    draws), so a recorded ``shift_params`` can be checked against :meth:`severity_table`.
    """

    table: ClassVar[dict[int, dict[str, Any]]]
    identity: ClassVar[dict[str, Any]]

    def level(self, severity: int) -> dict[str, Any]:
        """The table row for ``severity`` (a copy; ``identity`` for 0), after checking the severity."""
        self.check_severity(severity)
        return dict(self.identity if severity == 0 else self.table[severity])

    def severity_table(self) -> list[dict[str, Any]]:
        return [{"severity": s, **row} for s, row in sorted(self.table.items())]
