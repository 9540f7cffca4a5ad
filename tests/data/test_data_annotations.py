"""Other raters' annotations in a CSV manifest: every ``label_<name>`` column is ``Case.annotations[name]``,
checked like the label; a bad one fails its case alone; the files key the resume fingerprint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from robusteval.data.checks import summarize_loading
from robusteval.data.sources import read_manifest
from robusteval.errors import CaseError, RobustEvalError

WriteNifti = Callable[..., Path]
SHAPE = (8, 8, 8)
AFFINE = np.diag([1.0, 1.0, 3.0, 1.0])
HEADER = "case_id,site,flair,t1,label,label_rater2,scanner_note"


def block(x0: int, x1: int, value: int = 1, shape: tuple[int, int, int] = SHAPE) -> NDArray[np.uint8]:
    """``value`` on voxels [x0:x1, 3:5, 3:5], 0 elsewhere."""
    lab = np.zeros(shape, dtype=np.uint8)
    lab[x0:x1, 3:5, 3:5] = value
    return lab


@pytest.fixture
def manifest(tmp_path: Path, write_nifti: WriteNifti) -> Path:
    """c1: rater 2 drew x in 1..4 (label: 2..4); c2: no rater-2 cell; c3: rater 2's file on a 7-slice grid."""
    rng = np.random.default_rng(0)
    for case in ("c1", "c2", "c3"):
        for modality in ("flair", "t1"):
            write_nifti(tmp_path / f"{case}_{modality}.nii.gz", rng.uniform(1, 2, SHAPE).astype(np.float32), AFFINE)
        write_nifti(tmp_path / f"{case}_label.nii.gz", block(2, 4), AFFINE)
    write_nifti(tmp_path / "c1_rater2.nii.gz", block(1, 4), AFFINE)
    write_nifti(tmp_path / "c3_rater2.nii.gz", block(1, 4, shape=(8, 8, 7)), AFFINE)
    rows = [
        HEADER,
        "c1,A,c1_flair.nii.gz,c1_t1.nii.gz,c1_label.nii.gz,c1_rater2.nii.gz,x",
        "c2,A,c2_flair.nii.gz,c2_t1.nii.gz,c2_label.nii.gz,,y",
        "c3,B,c3_flair.nii.gz,c3_t1.nii.gz,c3_label.nii.gz,c3_rater2.nii.gz,z",
    ]
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "manifest.csv"


def test_a_label_column_per_rater_loads_as_an_annotation(manifest: Path) -> None:
    records = {r.case_id: r for r in read_manifest(manifest, ["flair", "t1"], None)}
    c1 = records["c1"].load()
    assert set(c1.annotations) == {"rater2"}
    np.testing.assert_array_equal(c1.annotations["rater2"], block(1, 4) == 1)
    assert c1.annotations["rater2"].dtype == np.bool_
    assert int(c1.annotations["rater2"].sum()) == 12  # 3 x 2 x 2 voxels, against the label's 8
    assert int(c1.label.sum()) == 8
    assert records["c2"].load().annotations == {}  # an empty cell: no annotation for that case
    assert "label_rater2" not in records["c1"].metadata  # not metadata, unlike the other extra column
    assert records["c1"].metadata["scanner_note"] == "x"
    assert manifest.parent / "c1_rater2.nii.gz" in records["c1"].files
    assert len(records["c2"].files) == 3


def test_an_annotation_on_another_grid_fails_its_case_alone(manifest: Path) -> None:
    records = {r.case_id: r for r in read_manifest(manifest, ["flair", "t1"], None)}
    with pytest.raises(CaseError, match=r"annotation 'rater2': shape \(8, 8, 7\) differs from the first modality's"):
        records["c3"].load()
    summary = summarize_loading(records.values())
    assert (summary.listed, summary.loaded) == (3, 2)
    assert list(summary.failed) == ["c3"]


def test_annotation_values_are_checked_and_the_ignore_value_reads_as_zero(
    tmp_path: Path, manifest: Path, write_nifti: WriteNifti
) -> None:
    ann = block(1, 4)
    ann[1, 3, 3] = 2  # a voxel at the ignore value
    write_nifti(tmp_path / "c1_rater2.nii.gz", ann, AFFINE)
    c1 = read_manifest(manifest, ["flair", "t1"], None, label_values=(0, 1, 2), ignore_value=2)[0].load()
    assert int(c1.annotations["rater2"].sum()) == 11  # the value-2 voxel is background in the annotation
    assert c1.ignore is None  # the ignore mask comes from the reference label only
    with pytest.raises(CaseError, match=r"annotation 'rater2': values \[2.0\] outside the allowed \[0, 1\]"):
        read_manifest(manifest, ["flair", "t1"], None)[0].load()


def test_annotation_files_key_the_resume_fingerprint(manifest: Path, write_nifti: WriteNifti) -> None:
    before = read_manifest(manifest, ["flair", "t1"], None)[0].fingerprint()
    write_nifti(manifest.parent / "c1_rater2.nii.gz", block(2, 4), AFFINE)
    assert read_manifest(manifest, ["flair", "t1"], None)[0].fingerprint() != before


def test_two_columns_naming_one_annotation_are_a_listing_error(manifest: Path) -> None:
    text = manifest.read_text().replace("label_rater2,scanner_note", "label_rater2,LABEL_rater2")
    manifest.write_text(text)
    with pytest.raises(RobustEvalError, match="both name annotation 'rater2'"):
        read_manifest(manifest, ["flair", "t1"], None)
