"""Reading one case from NIfTI files, with a clear :class:`CaseError` for every kind of bad data.

Checks, each a :class:`CaseError` naming the file and the reason: file missing; unreadable (corrupt or
truncated gzip, not a NIfTI); not 3D (a 4D file with one volume is accepted); NaN/Inf voxels; a singular or
non-finite affine; a modality, the label or another rater's annotation on another grid (shape, or voxel
corners more than ``AFFINE_TOLERANCE_MM`` apart); label or annotation values outside ``label_values``.
"""

from __future__ import annotations

__all__ = ["AFFINE_TOLERANCE_MM", "ImageSource", "grid_deviation_mm", "load_case", "save_nifti"]

import gzip
import io
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from numpy.typing import NDArray

from robusteval.data.case import Case
from robusteval.errors import CaseError

AFFINE_TOLERANCE_MM = 1e-3
"""Largest distance (mm) between corresponding voxel corners of two grids that still counts as one grid."""

ImageSource = Path | tuple[Path, int]
"""A 3D NIfTI file, or ``(file, channel)``: one volume of a 4D file (channels on the last axis, as in MSD)."""

Array = NDArray[np.float64]


_NIFTI2_SIZEOF_HDR = (b"\x1c\x02\x00\x00", b"\x00\x00\x02\x1c")  # 540, little / big endian


def _open(path: Path) -> nib.Nifti1Image:
    """The image in ``path``. A gzipped file is decompressed whole first, so that its CRC and length are
    checked: nibabel alone stops reading after the voxel data and would return a corrupt stream's garbage."""
    if not path.name.endswith(".gz"):
        return nib.load(str(path))  # type: ignore[return-value]
    raw = gzip.decompress(path.read_bytes())
    kind = nib.Nifti2Image if raw[:4] in _NIFTI2_SIZEOF_HDR else nib.Nifti1Image
    return kind.from_bytes(raw)


def _read_file(path: Path, what: str) -> tuple[Array, Array]:
    """The data (any dimensionality) and affine of one NIfTI file, or a CaseError."""
    if not path.is_file():
        raise CaseError(f"{what}: file not found: {path}")
    try:
        img = _open(path)
        data = np.asarray(img.dataobj, dtype=np.float64)
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as exc:  # any failure to read the file (gzip, zlib, nibabel, numpy) is this case's
        raise CaseError(f"{what}: cannot read {path.name}: {type(exc).__name__}: {exc}") from None
    if affine.shape != (4, 4) or not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise CaseError(f"{what}: {path.name} has a singular or non-finite affine")
    return data, affine


def _volume(data: Array, channel: int | None, what: str, name: str) -> Array:
    """The 3D volume of ``data`` (``channel`` of a 4D file), checked finite."""
    if channel is not None:
        if data.ndim != 4 or not 0 <= channel < data.shape[3]:
            raise CaseError(f"{what}: expected 4D with a channel {channel}; {name} has shape {data.shape}")
        data = data[..., channel]
    elif data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise CaseError(f"{what}: expected a 3D image, {name} has shape {data.shape}")
    if not np.isfinite(data).all():
        raise CaseError(f"{what}: {name} has {int((~np.isfinite(data)).sum())} NaN/Inf voxels")
    return data


def grid_deviation_mm(shape: tuple[int, ...], affine: Array, other_affine: Array) -> float:
    """Largest distance (mm) between the world positions of the 8 corner voxels under two affines."""
    corners = np.array(list(itertools.product(*[(0, n - 1) for n in shape[:3]])), dtype=np.float64)
    homog = np.c_[corners, np.ones(len(corners))]
    diff = homog @ (np.asarray(affine) - np.asarray(other_affine))[:3].T
    return float(np.sqrt((diff**2).sum(axis=1)).max())


Shape = tuple[int, ...]


def _same_grid(what: str, shape: Shape, affine: Array, ref_shape: Shape, ref_affine: Array) -> None:
    if shape != ref_shape:
        raise CaseError(f"{what}: shape {shape} differs from the first modality's {ref_shape}")
    deviation = grid_deviation_mm(shape, affine, ref_affine)
    if deviation > AFFINE_TOLERANCE_MM:
        raise CaseError(
            f"{what}: affine differs from the first modality's by {deviation:.4g} mm at the corners "
            f"(tolerance {AFFINE_TOLERANCE_MM} mm)"
        )


def load_case(
    *,
    case_id: str,
    subject_id: str,
    site: str,
    scanner: str,
    images: Mapping[str, ImageSource],
    label: Path,
    label_values: tuple[int, ...] = (0, 1),
    ignore_value: int | None = None,
    foreground: tuple[int, ...] = (1,),
    metadata: Mapping[str, Any] | None = None,
    annotations: Mapping[str, Path] | None = None,
) -> Case:
    """Load and check a case. All modalities, the label and the annotations must share one grid.

    The reference label is ``label in foreground``; voxels equal to ``ignore_value`` (e.g. 2 in WMH-2017)
    become the ignore mask (None when there are none); any value outside ``label_values`` is an error.
    ``annotations`` (rater name -> file) are other raters' labels, checked like the label and read as
    ``value in foreground`` (so a voxel at ``ignore_value`` is 0 in an annotation; the ignore mask comes from
    the reference label alone). Images are returned as float32, the affine of the first modality as float64.
    """
    arrays: dict[str, NDArray[np.float32]] = {}
    ref_shape: tuple[int, ...] | None = None
    ref_affine: Array | None = None
    files: dict[Path, tuple[Array, Array]] = {}  # a 4D file holding several channels is read once
    for name, source in images.items():
        path, channel = (Path(source[0]), source[1]) if isinstance(source, tuple) else (Path(source), None)
        if path not in files:
            files[path] = _read_file(path, name)
        raw, affine = files[path]
        data = _volume(raw, channel, name, path.name)
        if ref_shape is None or ref_affine is None:
            ref_shape, ref_affine = data.shape, affine
        else:
            _same_grid(name, data.shape, affine, ref_shape, ref_affine)
        arrays[name] = data.astype(np.float32)
    files.clear()
    if ref_shape is None or ref_affine is None:
        raise CaseError("no input modality listed")
    raw_label, lab_affine = _read_file(Path(label), "label")
    lab = _volume(raw_label, None, "label", Path(label).name)
    _same_grid("label", lab.shape, lab_affine, ref_shape, ref_affine)
    _check_values("label", lab, label_values)
    ignore = (lab == ignore_value) if ignore_value is not None else None
    others: dict[str, NDArray[np.bool_]] = {}
    for rater, path in (annotations or {}).items():
        what = f"annotation {rater!r}"
        raw, affine = _read_file(Path(path), what)
        data = _volume(raw, None, what, Path(path).name)
        _same_grid(what, data.shape, affine, ref_shape, ref_affine)
        _check_values(what, data, label_values)
        others[rater] = np.isin(data, foreground)
    return Case(
        case_id=case_id,
        subject_id=subject_id,
        site=site,
        scanner=scanner,
        images=arrays,
        label=np.isin(lab, foreground),
        affine=ref_affine,
        ignore=ignore if ignore is not None and ignore.any() else None,
        metadata=dict(metadata or {}),
        annotations=others,
    )


def _check_values(what: str, data: Array, allowed: tuple[int, ...]) -> None:
    bad = [v for v in np.unique(data).tolist() if v not in allowed]
    if bad:
        raise CaseError(f"{what}: values {bad[:5]} outside the allowed {list(allowed)}")


def save_nifti(array: NDArray[np.generic], affine: NDArray[np.float64], path: Path) -> None:
    """Write a gzipped NIfTI with a fixed gzip mtime so identical inputs give identical bytes."""
    img = nib.Nifti1Image(array, affine)  # type: ignore[no-untyped-call]
    img.header.set_xyzt_units("mm")  # type: ignore[no-untyped-call]
    img.set_qform(affine, code=1)  # type: ignore[no-untyped-call]
    img.set_sform(affine, code=1)  # type: ignore[no-untyped-call]
    raw = img.to_bytes()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)
    path.write_bytes(buf.getvalue())
