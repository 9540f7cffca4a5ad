"""Helpers shared by the shift tests: a small phantom case, image-quality and overlap measures, digests.

A plain module (not ``conftest``) so that ``from shift_helpers import ...`` never picks up another
directory's conftest.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from robusteval.data.case import Case
from robusteval.shifts import SHIFTS, Condition, Shift

# lesion centres (voxels) and radii (voxels) of the phantom; all inside its "white matter"
LESIONS = (((20, 22, 18), 4.0), ((14, 16, 14), 2.5), ((26, 28, 20), 2.0), ((22, 14, 22), 1.5),
           ((16, 28, 15), 1.0), ((27, 18, 14), 0.5))  # fmt: skip


def make_shift(name: str, **options: Any) -> Shift:
    return SHIFTS.get(name)(**options)


def ball(shape: tuple[int, int, int], centre: tuple[float, float, float], radius: float) -> NDArray[np.bool_]:
    grid = np.indices(shape, dtype=np.float64)
    c = np.asarray(centre, dtype=np.float64)[:, None, None, None]
    return np.asarray(((grid - c) ** 2).sum(axis=0) <= radius**2)


def phantom(
    shape: tuple[int, int, int] = (40, 44, 36), spacing: float = 2.0, *, with_ignore: bool = False, seed: int = 0
) -> Case:
    """A head-like phantom: an ellipsoidal "brain" (grey matter) around an ellipsoidal "white matter" holding
    six spherical lesions (bright on FLAIR, dark on T1), smooth texture and Rician noise, on a non-cubic grid
    with voxel size ``spacing`` mm (RAS, origin at the centre). ``ignore`` (optional) is a thin shell around
    the largest lesion."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape, dtype=np.float64)
    centre = (np.asarray(shape, dtype=np.float64) - 1) / 2
    rel = (grid - centre[:, None, None, None]) / np.asarray(shape, dtype=np.float64)[:, None, None, None]
    r = np.sqrt((rel**2).sum(axis=0))
    brain, wm = r < 0.42, r < 0.3
    label = np.zeros(shape, dtype=bool)
    for c, rad in LESIONS:
        label |= ball(shape, c, rad)
    label &= wm
    texture = 1.0 + ndimage.gaussian_filter(rng.standard_normal(shape), 2.0)
    images = {}
    for name, (gm_v, wm_v, les_v) in {"flair": (700.0, 500.0, 1200.0), "t1": (550.0, 850.0, 450.0)}.items():
        img = np.where(brain, gm_v, 0.0)
        img = np.where(wm, wm_v, img)
        img = np.where(label, les_v, img)
        img = ndimage.gaussian_filter(img, 0.7) * np.clip(texture, 0.8, 1.2)
        n1, n2 = rng.normal(0, 15.0, shape), rng.normal(0, 15.0, shape)
        images[name] = np.sqrt((img + n1) ** 2 + n2**2).astype(np.float32)
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = -centre * spacing
    ignore = None
    if with_ignore:
        big = ball(shape, LESIONS[0][0], LESIONS[0][1])
        ignore = ndimage.binary_dilation(big, iterations=1) & ~big
    return Case("phantom", "phantom", "A", "test", images, label, affine, ignore)


def psnr(clean: NDArray[np.floating], noisy: NDArray[np.floating]) -> float:
    """Peak signal-to-noise ratio (dB) with the clean image's range as the peak."""
    a, b = clean.astype(np.float64), noisy.astype(np.float64)
    mse = float(((a - b) ** 2).mean())
    peak = float(a.max() - a.min())
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)


def dice(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def digest(case: Case) -> str:
    """sha256 over every array of the case (images in name order, label, ignore, affine) and their shapes."""
    h = hashlib.sha256()
    arrays: list[NDArray[Any]] = [case.images[m] for m in sorted(case.images)]
    arrays += [case.label, case.affine]
    if case.ignore is not None:
        arrays.append(case.ignore)
    for a in arrays:
        arr = np.ascontiguousarray(a)
        h.update(f"{arr.dtype}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def assert_same_case(a: Case, b: Case) -> None:
    """Exact equality of every array, dtype and shape."""
    assert sorted(a.images) == sorted(b.images)
    for m in a.images:
        assert a.images[m].dtype == b.images[m].dtype
        np.testing.assert_array_equal(a.images[m], b.images[m])
    np.testing.assert_array_equal(a.label, b.label)
    assert a.label.dtype == b.label.dtype
    np.testing.assert_array_equal(a.affine, b.affine)
    assert (a.ignore is None) == (b.ignore is None)
    if a.ignore is not None and b.ignore is not None:
        np.testing.assert_array_equal(a.ignore, b.ignore)


def single(name: str, **options: Any) -> Condition:
    return Condition.build(name, [(name, options, None)])
