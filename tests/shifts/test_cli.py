"""``robusteval shifts preview|table``, the reusable gallery figure, the shift protocols and docs/shifts.md."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pytest
from shift_helpers import phantom

from robusteval.cli import main
from robusteval.data.case import Case
from robusteval.engine.plan import build_condition
from robusteval.illustrate import shift_gallery
from robusteval.protocol import load_protocol
from robusteval.shifts import SHIFTS, Condition
from robusteval.shifts.tables import severity_markdown

ROOT = Path(__file__).resolve().parents[2]
FAMILY_OF_PROTOCOL = {
    "shifts-artifacts.yaml": "artifact",
    "shifts-label-noise.yaml": "label_noise",
    "shifts-orientation.yaml": "orientation",
    "shifts-scanner.yaml": "scanner",
    "shifts-modality.yaml": "modality",
}


def test_gallery_has_one_panel_per_condition_and_severity(phantom_case: Case) -> None:
    conditions = [Condition.build("blur", [("blur", {}, None)]), Condition.build("flip", [("flip", {"axis": 1}, None)])]
    fig = shift_gallery(phantom_case, conditions, [1, 3, 5], seed=0)
    try:
        axes = fig.get_axes()
        assert len(axes) == 2 * 4
        assert [a.get_title() for a in axes[:4]] == ["clean", "severity 1", "severity 3", "severity 5"]
        assert "blur" in axes[0].get_ylabel()
        assert "flip" in axes[4].get_ylabel()
        # every panel shows an image and the label outline
        assert all(a.images and a.collections for a in axes)
        clean, blurred = axes[0].images[0].get_array(), axes[3].images[0].get_array()
        assert clean.shape == blurred.shape
        assert not np.array_equal(clean, blurred)
    finally:
        plt.close(fig)


def _write_manifest_dataset(folder: Path) -> Path:
    rows = ["case_id,subject_id,site,scanner,partition,flair,t1,label"]
    for i in range(2):
        case = phantom(seed=i)
        for name, arr in (*case.images.items(), ("label", case.label.astype(np.uint8))):
            nib.save(nib.Nifti1Image(arr, case.affine), folder / f"c{i}_{name}.nii.gz")
        rows.append(f"c{i},s{i},A,test,test,c{i}_flair.nii.gz,c{i}_t1.nii.gz,c{i}_label.nii.gz")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    protocol = folder / "preview.yaml"
    protocol.write_text(
        "name: preview\n"
        "dataset: {source: manifest, path: manifest.csv, modalities: [flair, t1],\n"
        "          split: {in_distribution: {site: [A]}}}\n"
        "models: [{name: unet, family: cnn, adapter: zoo, params: {entry: unet}}]\n"
        "shifts:\n"
        "  - {shift: rician_noise, severities: [1, 5]}\n"
        "  - {name: scanner-C, shift: scanner, options: {profile: C}, severities: [2]}\n"
    )
    return protocol


def test_preview_command_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = _write_manifest_dataset(tmp_path)
    out = tmp_path / "out" / "grid.png"
    code = main(["shifts", "preview", str(protocol), "--case", "c1", "--out", str(out), "--cache", str(tmp_path)])
    assert code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "2 conditions x 3 severities, case c1" in capsys.readouterr().out
    image = plt.imread(out)
    assert image.shape[0] > 200
    assert image.shape[1] > 400


def test_preview_command_rejects_an_unknown_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = _write_manifest_dataset(tmp_path)
    code = main(["shifts", "preview", str(protocol), "--case", "nope", "--out", str(tmp_path / "x.png")])
    assert code == 2
    err = capsys.readouterr().err
    assert "--case 'nope' is not in the dataset" in err
    assert "c0, c1" in err
    assert not (tmp_path / "x.png").exists()


def test_preview_rejects_bad_severities(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["shifts", "preview", "p.yaml", "--out", "x.png", "--severities", "0,7"])


def test_table_command_prints_every_shift(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shifts", "table"]) == 0
    out = capsys.readouterr().out
    for name in SHIFTS.names():
        assert f"### {name}\n" in out
    assert main(["shifts", "table", "nope"]) == 2


def test_docs_hold_the_current_severity_tables() -> None:
    """docs/shifts.md embeds ``python -m robusteval shifts table`` verbatim (regenerate it when a table changes)."""
    docs = (ROOT / "docs" / "shifts.md").read_text()
    assert severity_markdown() in docs


@pytest.mark.parametrize("filename", sorted(FAMILY_OF_PROTOCOL))
def test_shift_protocols_load_build_and_show_their_family(filename: str) -> None:
    protocol = load_protocol(ROOT / "protocols" / filename)
    conditions = [build_condition(spec) for spec in protocol.shifts]  # constructs every shift with its options
    families = {c.family for c in conditions}
    assert families == {FAMILY_OF_PROTOCOL[filename]}
    names = {step.name for c in conditions for step in c.steps}
    expected = {n for n in SHIFTS.names() if SHIFTS.get(n).family == FAMILY_OF_PROTOCOL[filename]}
    assert names == expected  # every shift of the family appears
