"""Bad data: each kind fails its own case with a clear CaseError when loaded; every other case loads."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from numpy.typing import NDArray

from robusteval.data.checks import has_empty_reference, summarize_loading
from robusteval.data.loading import AFFINE_TOLERANCE_MM, grid_deviation_mm
from robusteval.data.sources import read_manifest
from robusteval.errors import CaseError

SHAPE = (8, 8, 8)


def save_nifti(path: Path, data: NDArray[np.generic], affine: NDArray[np.float64]) -> None:
    nib.save(nib.Nifti1Image(data, affine), str(path))


def image(seed: int, shape: tuple[int, ...] = SHAPE) -> NDArray[np.float32]:
    return np.random.default_rng(seed).uniform(10.0, 100.0, size=shape).astype(np.float32)


def lesion(shape: tuple[int, ...] = SHAPE, value: float = 1) -> NDArray[np.float32]:
    lab = np.zeros(shape, dtype=np.float32)
    lab[3:5, 3:5, 3:5] = value
    return lab


def shifted(mm: float) -> NDArray[np.float64]:
    affine = np.eye(4)
    affine[0, 3] = mm
    return affine


def with_value(value: float, at: tuple[int, int, int] = (1, 2, 3)) -> NDArray[np.float32]:
    data = image(1)
    data[at] = value
    return data


def truncated_gzip(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def corrupt_gzip(path: Path) -> None:
    """Flip bytes in the middle of the compressed stream (the header stays valid)."""
    raw = bytearray(path.read_bytes())
    for i in range(len(raw) // 2, len(raw) // 2 + 16):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def singular_sform(path: Path) -> None:
    """Rewrite the file with a zero row in its sform (the qform unset), as a broken header would have."""
    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    header = nib.Nifti1Header()
    header.set_data_shape(data.shape)
    header.set_data_dtype(data.dtype)
    header["srow_x"], header["srow_y"], header["srow_z"] = [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]
    header["sform_code"], header["qform_code"] = 1, 0
    nib.save(nib.Nifti1Image(data, None, header), str(path))


# case -> (what to write over the good files, expected reason; None: loads)
BAD: dict[str, tuple[dict[str, object], str | None]] = {
    "good": ({}, None),
    "within_tolerance": ({"label_affine": shifted(AFFINE_TOLERANCE_MM / 10)}, None),
    "singleton_4d": ({"flair": image(1)[..., None]}, None),
    "empty_label": ({"label": np.zeros(SHAPE, np.float32)}, None),
    "missing_file": ({"t1": "delete"}, r"t1: file not found: .*missing_file_t1\.nii\.gz"),
    "not_gzip": ({"flair": b"not a NIfTI" * 40}, r"flair: cannot read not_gzip_flair\.nii\.gz: BadGzipFile"),
    "gzip_not_nifti": ({"t1": gzip.compress(b"not a NIfTI" * 40)}, r"t1: cannot read gzip_not_nifti_t1\.nii"),
    "truncated_gzip": ({"flair": truncated_gzip}, r"flair: cannot read truncated_gzip_flair\.nii\.gz: EOF"),
    "corrupt_gzip": ({"t1": corrupt_gzip}, r"t1: cannot read corrupt_gzip_t1\.nii\.gz"),
    "truncated_nii": ({"plain": True}, r"label: cannot read truncated_nii_label\.nii"),
    "label_shape": ({"label": lesion((8, 8, 7))}, r"label: shape \(8, 8, 7\) differs from the first modal"),
    "label_affine": ({"label_affine": shifted(0.5)}, r"label: affine differs .* by 0\.5 mm"),
    "modality_grid": ({"t1_affine": np.diag([1.0, 1.0, 2.0, 1.0])}, r"t1: affine differs .* by 7 mm"),
    "modality_shape": ({"t1": image(2, (8, 8, 9))}, r"t1: shape \(8, 8, 9\) differs"),
    "nan_voxels": ({"flair": with_value(np.nan)}, r"flair: .* has 1 NaN/Inf voxels"),
    "inf_voxels": ({"t1": with_value(np.inf)}, r"t1: .* has 1 NaN/Inf voxels"),
    "four_d": ({"flair": np.stack([image(1), image(2)], -1)}, r"flair: expected a 3D image, .* 8, 2\)"),
    "label_value_3": ({"label": lesion(value=3)}, r"label: values \[3\.0\] outside the allowed \[0, 1\]"),
    "label_fraction": ({"label": lesion(value=0.5)}, r"label: values \[0\.5\] outside the allowed \[0, 1\]"),
    "singular_affine": ({"flair": singular_sform}, r"flair: .* has a singular or non-finite affine"),
}


@pytest.fixture(scope="module")
def bad_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One manifest row per kind in BAD, plus a row with an empty label path (written once per module)."""
    tmp_path = tmp_path_factory.mktemp("bad")
    lines = ["case_id,site,flair,t1,label"]
    for case, (changes, _) in BAD.items():
        ext = ".nii" if changes.get("plain") else ".nii.gz"
        paths = {m: tmp_path / f"{case}_{m}{ext}" for m in ("flair", "t1", "label")}
        contents: dict[str, object] = {"flair": image(1), "t1": image(2), "label": lesion()}
        for m in paths:
            content = changes.get(m, contents[m])
            if isinstance(content, np.ndarray):
                save_nifti(paths[m], content, changes.get(f"{m}_affine", np.eye(4)))
            elif isinstance(content, bytes):
                paths[m].write_bytes(content)
            elif content != "delete":
                save_nifti(paths[m], contents[m], changes.get(f"{m}_affine", np.eye(4)))
                if callable(content):
                    content(paths[m])
        if changes.get("plain"):
            truncated = paths["label"].read_bytes()
            paths["label"].write_bytes(truncated[: len(truncated) - 100])
        lines.append(f"{case},S,{paths['flair'].name},{paths['t1'].name},{paths['label'].name}")
    lines.append("no_label_path,S,good_flair.nii.gz,good_t1.nii.gz,")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "manifest.csv"


@pytest.mark.parametrize("case_id", sorted(BAD))
def test_each_bad_kind_fails_its_case_with_its_reason(bad_manifest: Path, case_id: str) -> None:
    records = {r.case_id: r for r in read_manifest(bad_manifest, ["flair", "t1"], None)}
    reason = BAD[case_id][1]
    if reason is None:
        case = records[case_id].load()
        assert case.images["flair"].shape == SHAPE
        assert case.images["flair"].dtype == np.float32
    else:
        with pytest.raises(CaseError, match=reason):
            records[case_id].load()


def test_loaded_plus_failed_is_listed_and_empty_references_are_counted(bad_manifest: Path) -> None:
    records = read_manifest(bad_manifest, ["flair", "t1"], None)
    summary = summarize_loading(records)
    n_good = sum(reason is None for _, reason in BAD.values())
    assert summary.listed == len(records) == len(BAD) + 1
    assert summary.loaded == n_good
    assert len(summary.failed) == len(BAD) + 1 - n_good
    assert summary.consistent
    assert summary.empty_reference == ["empty_label"]
    assert "no path for ['label']" in summary.failed["no_label_path"]
    n_failed = len(BAD) + 1 - n_good
    head = f"{len(BAD) + 1} listed, {n_good} loaded, {n_failed} failed, 1 with an empty reference label"
    assert summary.lines()[0] == head
    good = records[[r.case_id for r in records].index("good")].load()
    assert not has_empty_reference(good)


def test_grid_deviation_is_measured_at_the_voxel_corners() -> None:
    a = np.eye(4)
    b = np.diag([1.0, 1.0, 1.001, 1.0])  # 0.001 mm per voxel along z: 0.099 mm at slice 99
    assert grid_deviation_mm((10, 10, 100), a, b) == pytest.approx(0.099)
    assert grid_deviation_mm((10, 10, 100), a, shifted(0.25)) == pytest.approx(0.25)
