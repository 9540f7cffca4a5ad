"""``source: bids`` on tiny BIDS trees the tests write: subjects with and without sessions, participants.tsv,
sidecars (with inheritance), labels in a derivatives folder; BIDS errors name the file; bad cases fail alone."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from numpy.typing import NDArray

from robusteval.data.checks import summarize_loading
from robusteval.data.sources import SOURCES, list_cases
from robusteval.data.split import split_records
from robusteval.errors import CaseError, FieldError, RobustEvalError
from robusteval.protocol.schema import DatasetSpec, SplitSpec

pytest.importorskip("bids", reason="pybids is not installed (pip install 'robusteval[bids]')")

SHAPE = (8, 8, 8)
AFFINE = np.diag([1.0, 1.0, 2.0, 1.0])
PARTICIPANTS = "participant_id\tsite\tage\tgroup\nsub-01\tA\t61\tcontrol\nsub-02\tB\t70\tn/a\nsub-03\tA\tn/a\tsvd\n"
LABEL = "derivatives/labels/sub-{subject}[/ses-{session}]/anat/sub-{subject}[_ses-{session}]_label-WMH_mask.nii.gz"


def _save(path: Path, data: NDArray[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, AFFINE), str(path))


def image(seed: int) -> NDArray[np.float32]:
    return np.random.default_rng(seed).uniform(10.0, 100.0, size=SHAPE).astype(np.float32)


def lesion(seed: int) -> NDArray[np.uint8]:
    lab = np.zeros(SHAPE, dtype=np.uint8)
    lab[seed % 4 : seed % 4 + 3, 2:5, 2:5] = 1
    return lab


def write_bids(root: Path, scans: dict[str, dict[str, str]] | None = None) -> Path:
    """A BIDS tree: ``scans`` maps ``sub-XX[_ses-YY]`` to its sidecar (Manufacturer, ManufacturersModelName);
    default: sub-01 (GE, no session), sub-02 with sessions 1 and 2 (Philips). FLAIR, T1w and a label each;
    MagneticFieldStrength comes from a top-level FLAIR.json (the inheritance principle)."""
    scans = scans or {
        "sub-01": {"Manufacturer": "GE", "ManufacturersModelName": "Discovery MR750"},
        "sub-02_ses-1": {"Manufacturer": "Philips", "ManufacturersModelName": "Achieva"},
        "sub-02_ses-2": {"Manufacturer": "Philips", "ManufacturersModelName": "Ingenia"},
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "tiny", "BIDSVersion": "1.9.0"}))
    (root / "participants.tsv").write_text(PARTICIPANTS)
    (root / "FLAIR.json").write_text(json.dumps({"MagneticFieldStrength": 3, "Manufacturer": "unset"}))
    for i, (case, sidecar) in enumerate(scans.items()):
        folder = Path(*case.split("_")) / "anat"
        _save(root / folder / f"{case}_FLAIR.nii.gz", image(10 * i))
        _save(root / folder / f"{case}_T1w.nii.gz", image(10 * i + 1))
        (root / folder / f"{case}_FLAIR.json").write_text(json.dumps(sidecar))
        _save(root / "derivatives" / "labels" / folder / f"{case}_label-WMH_mask.nii.gz", lesion(i))
    return root


def spec(root: Path, **fields: Any) -> DatasetSpec:
    return DatasetSpec.model_validate({"source": "bids", "path": str(root), **fields})


def test_bids_is_a_registered_source() -> None:
    assert "bids" in SOURCES


def test_subjects_and_sessions_become_cases_with_bids_metadata(tmp_path: Path) -> None:
    root = write_bids(tmp_path / "ds")
    records = {r.case_id: r for r in list_cases(spec(root), tmp_path / "cache")}
    assert list(records) == ["sub-01", "sub-02_ses-1", "sub-02_ses-2"]
    one, two = records["sub-01"], records["sub-02_ses-2"]
    assert (one.subject_id, one.site, one.scanner, one.partition) == ("sub-01", "A", "GE Discovery MR750 3T", "test")
    assert (two.subject_id, two.site, two.scanner) == ("sub-02", "B", "Philips Ingenia 3T")
    assert one.metadata == {
        "session": None,
        "age": 61,
        "group": "control",
        "Manufacturer": "GE",  # the subject's sidecar wins over the top-level FLAIR.json
        "ManufacturersModelName": "Discovery MR750",
        "MagneticFieldStrength": 3,  # inherited from the top-level FLAIR.json
    }
    assert two.get("session") == "2"
    assert two.get("group") is None  # n/a
    case = two.load()
    np.testing.assert_array_equal(case.images["flair"], image(20))
    np.testing.assert_array_equal(case.images["t1"], image(21))
    np.testing.assert_array_equal(case.label, lesion(2).astype(bool))
    np.testing.assert_allclose(case.affine, AFFINE)
    assert (case.case_id, case.subject_id, case.site) == ("sub-02_ses-2", "sub-02", "B")
    assert case.metadata["Manufacturer"] == "Philips"
    assert len(two.files) == 3  # flair, t1, label: their bytes key the resume cache


def test_split_by_participants_column_and_sidecar_field(tmp_path: Path) -> None:
    root = write_bids(tmp_path / "ds")
    split = SplitSpec.model_validate(
        {"in_distribution": {"site": ["A"]}, "out_of_distribution": {"Manufacturer": ["Philips"]}}
    )
    sides = split_records(list_cases(spec(root), tmp_path), split)
    assert [r.case_id for r in sides["id"]] == ["sub-01"]
    assert [r.case_id for r in sides["ood"]] == ["sub-02_ses-1", "sub-02_ses-2"]
    by_field = split_records(
        list_cases(spec(root), tmp_path),
        SplitSpec.model_validate({"in_distribution": {"MagneticFieldStrength": ["3.0"], "session": ["1"]}}),
    )
    assert [r.case_id for r in by_field["id"]] == ["sub-02_ses-1"]


def test_a_missing_label_or_flair_is_a_bad_case_and_the_others_load(tmp_path: Path) -> None:
    root = write_bids(tmp_path / "ds")
    missing_label = root / "derivatives/labels/sub-02/ses-1/anat/sub-02_ses-1_label-WMH_mask.nii.gz"
    missing_label.unlink()
    _save(root / "sub-03/anat/sub-03_T1w.nii.gz", image(5))  # a subject without FLAIR
    records = {r.case_id: r for r in list_cases(spec(root), tmp_path)}
    assert list(records) == ["sub-01", "sub-02_ses-1", "sub-02_ses-2", "sub-03"]
    with pytest.raises(CaseError, match=f"label: file not found: {missing_label}"):
        records["sub-02_ses-1"].load()
    with pytest.raises(CaseError, match=r"flair: no sub-03_\*FLAIR\.nii\[\.gz\] in .*sub-03/anat"):
        records["sub-03"].load()
    summary = summarize_loading(records.values())
    assert (summary.listed, summary.loaded) == (4, 2)
    assert set(summary.failed) == {"sub-02_ses-1", "sub-03"}
    assert records["sub-03"].site == "A"  # its participants.tsv row still applies


def test_several_images_of_a_modality_fail_the_case_until_entities_choose_one(tmp_path: Path) -> None:
    root = write_bids(tmp_path / "ds")
    _save(root / "sub-01/anat/sub-01_acq-2D_FLAIR.nii.gz", image(99))
    (record, *_) = list_cases(spec(root), tmp_path)
    with pytest.raises(CaseError, match=r"flair: 2 images .*choose one with dataset.params.entities"):
        record.load()
    chosen = list_cases(spec(root, params={"entities": {"flair": {"acquisition": "2D"}}, "label": LABEL}), tmp_path)
    assert [r.case_id for r in chosen] == ["sub-01", "sub-02_ses-1", "sub-02_ses-2"]
    np.testing.assert_array_equal(chosen[0].load().images["flair"], image(99))  # the T1w needs no acquisition
    with pytest.raises(CaseError, match=r"flair: no sub-02_ses-1_\*FLAIR"):
        chosen[1].load()  # no acq-2D FLAIR there
    with pytest.raises(FieldError, match="acqusition") as typo:
        list_cases(spec(root, params={"entities": {"flair": {"acqusition": "2D"}}}), tmp_path)
    assert typo.value.loc == ("dataset", "params", "entities", "flair")
    with pytest.raises(FieldError, match=r"\['t2'\] are not among dataset.modalities"):
        list_cases(spec(root, params={"entities": {"t2": {"run": 1}}}), tmp_path)


def test_label_pattern_suffixes_and_site_column_are_configurable(tmp_path: Path) -> None:
    root = write_bids(tmp_path / "ds", {"sub-01": {"InstitutionName": "Utrecht"}})
    _save(root / "sub-01/anat/sub-01_T2w.nii.gz", image(7))
    _save(root / "derivatives/manual/sub-01_mask-wmh.nii.gz", lesion(3))
    params = {
        "label": "derivatives/manual/sub-{subject}_mask-wmh.nii.gz",
        "suffixes": {"flair": "FLAIR", "t2": "T2w"},
        "site_column": "InstitutionName",
        "sidecar_fields": ["InstitutionName"],
    }
    (record,) = list_cases(spec(root, params=params, modalities=["flair", "t2"]), tmp_path)
    assert record.site == "Utrecht"
    assert record.scanner == "unset 3T"  # only the top-level FLAIR.json names a manufacturer here
    assert record.metadata["InstitutionName"] == "Utrecht"
    case = record.load()
    assert sorted(case.images) == ["flair", "t2"]
    np.testing.assert_array_equal(case.label, lesion(3).astype(bool))


def test_a_case_whose_label_pattern_needs_a_missing_entity_fails_alone(tmp_path: Path) -> None:
    root = write_bids(tmp_path / "ds")
    pattern = "derivatives/labels/sub-{subject}/ses-{session}/anat/sub-{subject}_ses-{session}_label-WMH_mask.nii.gz"
    records = {r.case_id: r for r in list_cases(spec(root, params={"label": pattern}), tmp_path)}
    with pytest.raises(CaseError, match="needs an entity that sub-01 does not have"):
        records["sub-01"].load()
    assert records["sub-02_ses-1"].load().label.any()


def _write(relative: str, text: str) -> Callable[[Path], Any]:
    return lambda root: (root / relative).write_text(text)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(
            lambda root: (root / "dataset_description.json").unlink(),
            r"dataset\.path: .*ds/dataset_description\.json not found",
            id="no-dataset_description",
        ),
        pytest.param(
            _write("dataset_description.json", "{oops"),
            r"dataset\.path: 'dataset_description\.json' is not a valid json file.*ds/dataset_description\.json",
            id="dataset_description-not-json",
        ),
        pytest.param(_write("sub-01/anat/sub-01_FLAIR.json", "{oops"), r"sub-01/anat/sub-01_FLAIR\.json", id="sidecar"),
        pytest.param(
            _write("participants.tsv", "participant_id\tsite\nsub-01\tA\textra\n"),
            r"participants\.tsv:2: 3 tab-separated fields, the header has 2",
            id="participants-fields",
        ),
        pytest.param(
            _write("participants.tsv", "participant_id,site\nsub-01,A\n"),
            r"participants\.tsv:1: no participant_id column",
            id="participants-not-tsv",
        ),
        pytest.param(
            _write("participants.tsv", "participant_id\tsite\n01\tA\n"),
            r"participants\.tsv:2: participant_id '01' is not sub-<label>",
            id="participants-id",
        ),
        pytest.param(
            _write("participants.tsv", "participant_id\tsite\nsub-01\tA\nsub-01\tB\n"),
            r"participants\.tsv:3: participant_id 'sub-01' also on line 2",
            id="participants-repeated-id",
        ),
    ],
)
def test_bids_errors_name_the_file(tmp_path: Path, damage: Callable[[Path], Any], message: str) -> None:
    root = write_bids(tmp_path / "ds")
    damage(root)
    with pytest.raises(RobustEvalError, match=message):
        list_cases(spec(root), tmp_path)


def test_listing_errors_name_the_field(tmp_path: Path) -> None:
    root = write_bids(tmp_path / "ds")
    with pytest.raises(FieldError, match="no case has a label: the pattern") as label:
        list_cases(spec(root, params={"label": "derivatives/nope/sub-{subject}.nii.gz"}), tmp_path)
    assert label.value.loc == ("dataset", "params", "label")
    with pytest.raises(FieldError, match=r"has no \{subject\}"):
        list_cases(spec(root, params={"label": "derivatives/labels/all.nii.gz"}), tmp_path)
    with pytest.raises(FieldError, match="no BIDS suffix known for modality 'dwi'") as modality:
        list_cases(spec(root, modalities=["flair", "dwi"]), tmp_path)
    assert modality.value.loc == ("dataset", "modalities")
    with pytest.raises(FieldError, match=r"no case .* has an anat \*_T2w\.nii\[\.gz\] image for modality 't2'"):
        list_cases(spec(root, modalities=["flair", "t2"]), tmp_path)
    with pytest.raises(RobustEvalError, match=r"unknown bids option\(s\) \['labels'\]"):
        list_cases(spec(root, params={"labels": "x"}), tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "dataset_description.json").write_text(json.dumps({"Name": "e", "BIDSVersion": "1.9.0"}))
    with pytest.raises(RobustEvalError, match=r"dataset\.path: no sub-\*/\[ses-\*/\]anat/ image"):
        list_cases(spec(empty), tmp_path)


# ---------------------------------------------------------------- end to end: validate and run on a BIDS tree

PROTOCOL = """name: bids-tiny
seed: 0
dataset:
  source: bids
  path: ds
  params: {{label: "{label}"}}
  modalities: [flair, t1]
  split:
    in_distribution: {{site: [A]}}
    out_of_distribution: {{Manufacturer: [Philips]}}
models:
  - name: copy
    family: external
    adapter: predictions
    params: {{mask: "preds/{{case_id}}.nii.gz"}}
metrics: {{panel: [dsc]}}
statistics: {{n_resamples: 200}}
execution: {{engine: local}}
"""


def _bids_study(tmp_path: Path) -> Path:
    """sub-01 and sub-03 (site A, GE; sub-03's label missing), sub-02 in two sessions (site B, Philips); each
    case's prediction is its reference label (sub-03: any mask)."""
    scans = {
        "sub-01": {"Manufacturer": "GE", "ManufacturersModelName": "Discovery MR750"},
        "sub-02_ses-1": {"Manufacturer": "Philips", "ManufacturersModelName": "Achieva"},
        "sub-02_ses-2": {"Manufacturer": "Philips", "ManufacturersModelName": "Ingenia"},
        "sub-03": {"Manufacturer": "GE", "ManufacturersModelName": "Discovery MR750"},
    }
    write_bids(tmp_path / "ds", scans)
    for i, case in enumerate(scans):
        _save(tmp_path / "preds" / f"{case}.nii.gz", lesion(i))
    (tmp_path / "ds/derivatives/labels/sub-03/anat/sub-03_label-WMH_mask.nii.gz").unlink()
    protocol = tmp_path / "p.yaml"
    protocol.write_text(PROTOCOL.format(label=LABEL))
    return protocol


def test_validate_and_run_a_bids_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` accepts it; `run` scores every case but the one without a label (failed, with the file)."""
    import pandas as pd

    from robusteval.cli import main

    protocol = _bids_study(tmp_path)
    assert main(["validate", str(protocol), "--cache", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().err == ""
    out = tmp_path / "out"
    code = main(["run", str(protocol), "--out", str(out), "--cache", str(tmp_path / "cache")])
    assert code == 3, capsys.readouterr().err
    cases = pd.read_csv(out / "cases.csv").set_index("case_id")
    assert sorted(cases.index) == ["sub-01", "sub-02_ses-1", "sub-02_ses-2", "sub-03"]
    assert cases.loc["sub-01", "split"] == "id"
    assert set(cases.loc[["sub-02_ses-1", "sub-02_ses-2"], "split"]) == {"ood"}
    assert cases.loc["sub-02_ses-2", "scanner"] == "Philips Ingenia 3T"
    ok = cases[cases["status"] == "ok"]
    assert sorted(ok.index) == ["sub-01", "sub-02_ses-1", "sub-02_ses-2"]
    assert (ok["dsc"] == 1.0).all()
    assert cases.loc["sub-03", "status"] == "failed"
    assert "label: file not found:" in cases.loc["sub-03", "error"]
    assert "sub-03_label-WMH_mask.nii.gz" in cases.loc["sub-03", "error"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(("path: ds", "path: nowhere"), ":5: dataset.path: file not found", id="no-folder"),
        pytest.param(
            ("path: ds", "path: ds/sub-01"),
            ":5: dataset.path: {tmp}/ds/sub-01/dataset_description.json not found",
            id="not-a-bids-root",
        ),
        pytest.param(
            ("derivatives/labels", "derivatives/nope"),
            ":6: dataset.params.label: no case has a label: the pattern",
            id="label-pattern",
        ),
        pytest.param(
            ("Manufacturer: [Philips]", "Vendor: [Philips]"),
            ":10: dataset.split.out_of_distribution.Vendor: no case has a value for column 'Vendor'",
            id="split-column",
        ),
    ],
)
def test_validate_reports_bids_problems_at_file_line_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], expected: str
) -> None:
    from robusteval.cli import main

    protocol = _bids_study(tmp_path)
    protocol.write_text(protocol.read_text().replace(*change))
    assert main(["validate", str(protocol), "--cache", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert f"{protocol}{expected.format(tmp=tmp_path)}" in err, err


def test_without_pybids_the_error_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_bids(tmp_path / "ds")
    monkeypatch.setitem(sys.modules, "bids", None)  # `import bids` raises ImportError
    with pytest.raises(RobustEvalError, match=r"dataset\.source: the bids source needs pybids: pip install"):
        list_cases(spec(root), tmp_path)
