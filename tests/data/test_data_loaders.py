"""The data sources on small fixture datasets written by the tests: manifest, MSD / nnU-Net, WMH-2017."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from robusteval.data.case import CaseRecord
from robusteval.data.checks import summarize_loading
from robusteval.data.sources import SOURCES, list_cases
from robusteval.data.split import split_of
from robusteval.errors import CaseError, RobustEvalError
from robusteval.protocol.schema import DatasetSpec, SplitSpec

WriteNifti = Callable[..., Path]
SHAPE = (8, 8, 8)
AFFINE = np.diag([1.0, 1.0, 3.0, 1.0])


def image(seed: int, shape: tuple[int, ...] = SHAPE) -> NDArray[np.float32]:
    return np.random.default_rng(seed).uniform(10.0, 100.0, size=shape).astype(np.float32)


def label(values: tuple[int, ...] = (1,)) -> NDArray[np.uint8]:
    """2x2x2 blocks along x, one per value."""
    lab = np.zeros(SHAPE, dtype=np.uint8)
    for i, v in enumerate(values):
        lab[2 * i : 2 * i + 2, 3:5, 3:5] = v
    return lab


def spec(source: str, path: Path | None, **fields: Any) -> DatasetSpec:
    data: dict[str, Any] = {"source": source, "path": None if path is None else str(path), **fields}
    return DatasetSpec.model_validate(data)


def by_id(records: list[CaseRecord]) -> dict[str, CaseRecord]:
    return {r.case_id: r for r in records}


def test_every_source_is_registered_by_importing_sources() -> None:
    assert {"synthetic", "manifest", "msd", "wmh2017"} <= set(SOURCES.names())


# ---------------------------------------------------------------- manifest


def write_manifest(root: Path, write_nifti: WriteNifti, text: str) -> Path:
    for case in ("c1", "c2", "c3"):
        write_nifti(root / "img" / f"{case}_flair.nii.gz", image(1), AFFINE)
        write_nifti(root / "img" / f"{case}_t1.nii.gz", image(2), AFFINE)
        write_nifti(root / "img" / f"{case}_seg.nii.gz", label((1, 2)), AFFINE)
    (root / "manifest.csv").write_text(text)
    return root / "manifest.csv"


MANIFEST = """case_id,subject_id,site,scanner,partition,FLAIR,t1,label,field_strength_t,vendor,age,code
c1,s1,X,ScanA,test,img/c1_flair.nii.gz,img/c1_t1.nii.gz,img/c1_seg.nii.gz,3.0,GE,71,007
c2,s2,Y,ScanB,test,img/c2_flair.nii.gz,img/c2_t1.nii.gz,img/c2_seg.nii.gz,1.5,Philips,,012
c3,s3,Y,ScanB,train,img/c3_flair.nii.gz,img/c3_t1.nii.gz,img/c3_seg.nii.gz,3,Siemens,64,100
"""


def test_manifest_extra_columns_are_metadata_for_splits(tmp_path: Path, write_nifti: WriteNifti) -> None:
    manifest = write_manifest(tmp_path, write_nifti, MANIFEST)
    dataset = spec("manifest", manifest, params={"ignore_value": 2}, partition="test")
    records = list_cases(dataset, tmp_path / "cache")
    assert [r.case_id for r in records] == ["c1", "c2"]  # c3 is in the train partition
    c1, c2 = records
    assert (c1.subject_id, c1.site, c1.scanner, c1.partition) == ("s1", "X", "ScanA", "test")
    assert c1.metadata == {"field_strength_t": 3.0, "vendor": "GE", "age": 71, "code": "007"}
    assert c2.metadata["age"] is None
    assert c1.get("vendor") == "GE"
    assert c1.get("site") == "X"
    # any metadata column can split; numbers match their text form
    in_dist, out_dist = {"field_strength_t": ["3"]}, {"vendor": ["Philips"]}
    split = SplitSpec(in_distribution=in_dist, out_of_distribution=out_dist)
    assert [split_of(r, split) for r in records] == ["id", "ood"]
    assert [split_of(r, SplitSpec(in_distribution={"age": ["71"]})) for r in records] == ["id", "ood"]
    case = c1.load()
    assert set(case.images) == {"flair", "t1"}  # the FLAIR column matched case-insensitively
    assert case.metadata["vendor"] == "GE"
    assert int(case.label.sum()) == 8
    assert case.ignore is not None
    assert int(case.ignore.sum()) == 8
    assert case.spacing_mm == (1.0, 1.0, 3.0)
    np.testing.assert_array_equal(case.images["t1"], image(2))


def test_manifest_listing_errors(tmp_path: Path, write_nifti: WriteNifti) -> None:
    manifest = write_manifest(tmp_path, write_nifti, "case_id,flair,label\n")
    with pytest.raises(RobustEvalError, match=r"missing column\(s\) \['t1'\]"):
        list_cases(spec("manifest", manifest), tmp_path)
    row = "c1,img/c1_flair.nii.gz,img/c1_t1.nii.gz,img/c1_seg.nii.gz\n"
    manifest.write_text("case_id,flair,t1,label\n" + row * 2)
    with pytest.raises(RobustEvalError, match="appear more than once"):
        list_cases(spec("manifest", manifest), tmp_path)
    manifest.write_text("case_id,flair,t1,label\n")  # a header and no rows: an empty dataset, no error
    assert list_cases(spec("manifest", tmp_path), tmp_path) == []  # the folder holding manifest.csv works too
    with pytest.raises(RobustEvalError, match="unknown manifest option"):
        list_cases(spec("manifest", manifest, params={"labels": 3}), tmp_path)


# ---------------------------------------------------------------- MSD / nnU-Net


def write_msd(root: Path, info: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps(info))
    return root


V2 = {
    "channel_names": {"0": "T1", "1": "FLAIR"},
    "labels": {"background": 0, "wmh": 1},
    "file_ending": ".nii.gz",
}


def test_msd_nnunet_v2_maps_channels_by_name(tmp_path: Path, write_nifti: WriteNifti) -> None:
    root = write_msd(tmp_path / "Dataset001_WMH", V2)
    for i, name in enumerate(("wmh_001", "wmh_002")):
        write_nifti(root / "imagesTs" / f"{name}_0000.nii.gz", image(10 + i), AFFINE)  # T1
        write_nifti(root / "imagesTs" / f"{name}_0001.nii.gz", image(20 + i), AFFINE)  # FLAIR
        write_nifti(root / "labelsTs" / f"{name}.nii.gz", label(), AFFINE)
    write_nifti(root / "imagesTs" / "wmh_003_0000.nii.gz", image(3), AFFINE)  # no FLAIR channel, no label
    records = list_cases(spec("msd", root), tmp_path)
    assert [r.case_id for r in records] == ["wmh_001", "wmh_002", "wmh_003"]
    assert records[0].metadata == {"dataset": "Dataset001_WMH"}
    case = records[1].load()
    np.testing.assert_array_equal(case.images["flair"], image(21))  # channel 1 is FLAIR
    np.testing.assert_array_equal(case.images["t1"], image(11))
    assert int(case.label.sum()) == 8
    assert case.ignore is None
    with pytest.raises(CaseError, match=r"wmh_003_0001\.nii\.gz"):
        records[2].load()
    summary = summarize_loading(records)
    assert (summary.listed, summary.loaded, len(summary.failed)) == (3, 2, 1)


def test_msd_channel_mapping_by_order_explicit_and_mismatch(tmp_path: Path, write_nifti: WriteNifti) -> None:
    info = {"modality": {"0": "MR_a", "1": "MR_b"}, "labels": {"0": "background", "1": "lesion"}}
    root = write_msd(tmp_path / "Task", info)
    write_nifti(root / "imagesTs" / "c_0000.nii.gz", image(1), AFFINE)
    write_nifti(root / "imagesTs" / "c_0001.nii.gz", image(2), AFFINE)
    write_nifti(root / "labelsTs" / "c.nii.gz", label(), AFFINE)
    by_order = list_cases(spec("msd", root), tmp_path)[0].load()  # no name matches: by order
    np.testing.assert_array_equal(by_order.images["flair"], image(1))
    explicit = list_cases(spec("msd", root, params={"channels": {"flair": 1, "t1": 0}}), tmp_path)[0].load()
    np.testing.assert_array_equal(explicit.images["flair"], image(2))
    info["modality"] = {"0": "FLAIR", "1": "PD"}  # one name matches, the other does not: ambiguous
    (root / "dataset.json").write_text(json.dumps(info))
    with pytest.raises(RobustEvalError, match="do not match the channel names"):
        list_cases(spec("msd", root), tmp_path)


def test_msd_decathlon_4d_files_and_train_partition(tmp_path: Path, write_nifti: WriteNifti) -> None:
    info = {"modality": {"0": "FLAIR", "1": "T1w", "2": "t1"}, "labels": {"0": "background", "1": "edema"}}
    root = write_msd(tmp_path / "Task01", info)
    stack = np.stack([image(1), image(2), image(3)], axis=-1)
    write_nifti(root / "imagesTr" / "brain_001.nii.gz", stack, AFFINE)
    write_nifti(root / "labelsTr" / "brain_001.nii.gz", label(), AFFINE)
    with pytest.raises(RobustEvalError, match="labelsTs"):  # the Decathlon withholds its test labels
        list_cases(spec("msd", root), tmp_path)
    case = list_cases(spec("msd", root, partition="train"), tmp_path)[0].load()
    np.testing.assert_array_equal(case.images["flair"], image(1))
    np.testing.assert_array_equal(case.images["t1"], image(3))  # "t1" matched exactly, not T1w


def test_msd_labels_ignore_foreground_and_metadata_table(tmp_path: Path, write_nifti: WriteNifti) -> None:
    info = {
        "channel_names": {"0": "flair", "1": "t1"},
        "labels": {"background": 0, "wmh": 1, "other": 2, "ignore": 3},
    }
    root = write_msd(tmp_path / "ds", info)
    for name in ("a", "b"):
        write_nifti(root / "imagesTs" / f"{name}_0000.nii.gz", image(1), AFFINE)
        write_nifti(root / "imagesTs" / f"{name}_0001.nii.gz", image(2), AFFINE)
        write_nifti(root / "labelsTs" / f"{name}.nii.gz", label((1, 2, 3)), AFFINE)
    with pytest.raises(RobustEvalError, match="2 foreground classes"):
        list_cases(spec("msd", root), tmp_path)
    (root / "meta.csv").write_text("case_id,site,scanner,age\na,S1,Prisma,70\nb,S2,Skyra,64\nzz,S3,,1\n")
    records = list_cases(spec("msd", root, params={"foreground": [1, 2], "metadata": "meta.csv"}), tmp_path)
    assert [(r.site, r.scanner, r.get("age")) for r in records] == [("S1", "Prisma", 70), ("S2", "Skyra", 64)]
    case = records[0].load()
    assert int(case.label.sum()) == 16  # values 1 and 2
    assert case.ignore is not None
    assert int(case.ignore.sum()) == 8


# ---------------------------------------------------------------- WMH-2017


def write_wmh_subject(
    root: Path, write_nifti: WriteNifti, site: str, subject: str, lab: NDArray[np.uint8], in_pre: bool = False
) -> None:
    folder = root / site / subject
    write_nifti(folder / "pre" / "FLAIR.nii.gz", image(1), AFFINE)
    write_nifti(folder / "pre" / "T1.nii.gz", image(2), AFFINE)
    write_nifti(folder / "orig" / "FLAIR.nii.gz", image(5), AFFINE)
    write_nifti(folder / ("pre" if in_pre else "") / "wmh.nii.gz", lab, AFFINE)


def test_wmh2017_layout_label_two_becomes_ignore(tmp_path: Path, write_nifti: WriteNifti) -> None:
    write_wmh_subject(tmp_path, write_nifti, "Utrecht", "0", label((1, 2)))
    write_wmh_subject(tmp_path, write_nifti, "Singapore", "50", label((1,)), in_pre=True)
    write_wmh_subject(tmp_path, write_nifti, "Amsterdam/GE1T5", "137", label((1, 3)))
    records = list_cases(spec("wmh2017", tmp_path), tmp_path / "cache")
    ids = by_id(records)
    assert sorted(ids) == ["Amsterdam-GE1T5_137", "Singapore_50", "Utrecht_0"]
    ge = ids["Amsterdam-GE1T5_137"]
    assert (ge.site, ge.subject_id, ge.scanner, ge.get("field_strength_t")) == (
        "Amsterdam/GE1T5",
        "137",
        "GE Signa HDxt 1.5T",
        1.5,
    )
    utrecht = ids["Utrecht_0"].load()
    np.testing.assert_array_equal(utrecht.images["flair"], image(1))  # pre/, not orig/
    assert int(utrecht.label.sum()) == 8
    assert utrecht.ignore is not None
    assert int(utrecht.ignore.sum()) == 8
    assert not (utrecht.label & utrecht.ignore).any()
    assert ids["Singapore_50"].load().ignore is None  # wmh.nii.gz inside pre/ is found too
    with pytest.raises(CaseError, match=r"values \[3\.0\] outside the allowed \[0, 1, 2\]"):
        ge.load()
    split = SplitSpec(in_distribution={"site": ["Utrecht", "Singapore"]})
    assert {r.case_id: split_of(r, split) for r in records} == {
        "Amsterdam-GE1T5_137": "ood",
        "Singapore_50": "id",
        "Utrecht_0": "id",
    }


def test_wmh2017_listing_errors(tmp_path: Path, write_nifti: WriteNifti) -> None:
    with pytest.raises(RobustEvalError, match="no <site>/<subject>/pre/"):
        list_cases(spec("wmh2017", tmp_path), tmp_path)
    write_wmh_subject(tmp_path, write_nifti, "Utrecht", "0", label())
    with pytest.raises(RobustEvalError, match=r"no subject .* has pre/<t2>"):
        list_cases(spec("wmh2017", tmp_path, modalities=["flair", "t2"]), tmp_path)
    # a single site folder as the path: the site is the folder's name
    (record,) = list_cases(spec("wmh2017", tmp_path / "Utrecht"), tmp_path)
    assert (record.case_id, record.site, record.scanner) == ("Utrecht_0", "Utrecht", "Philips Achieva 3T")
