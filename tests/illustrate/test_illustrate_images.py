"""Run-time images: the dataset preview and the shift gallery are drawn by the run into the run folder."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from robusteval.data.sources import list_cases
from robusteval.engine import make_plan
from robusteval.illustrate import write_run_images
from robusteval.protocol import Protocol
from robusteval.rundir import DATA_PREVIEW, GALLERY, PNG_SIGNATURE


def _dataset(root: Path) -> Path:
    """Two sites of two small cases each, written as NIfTI files with a manifest."""
    root.mkdir()
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    rng = np.random.default_rng(0)
    rows = ["case_id,subject_id,site,scanner,partition,flair,t1,label"]
    for site in ("A", "B"):
        for i in range(2):
            cid = f"{site}{i}"
            img = rng.uniform(1, 2, (32, 32, 32)).astype(np.float32)
            lab = np.zeros((32, 32, 32), np.uint8)
            lab[14:18, 14:18, 14:18] = 1
            for name, arr in (("flair", img), ("t1", img), ("label", lab)):
                nib.save(nib.Nifti1Image(arr, affine), root / f"{cid}_{name}.nii.gz")
            rows.append(f"{cid},{cid},{site},s,test,{cid}_flair.nii.gz,{cid}_t1.nii.gz,{cid}_label.nii.gz")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def _protocol(manifest: Path, shifts: list[dict[str, object]]) -> Protocol:
    return Protocol.model_validate(
        {
            "name": "assets",
            "dataset": {
                "source": "manifest",
                "path": str(manifest),
                "split": {"in_distribution": {"site": ["A"]}},
            },
            "models": [{"name": "unet", "family": "cnn", "adapter": "zoo", "params": {"entry": "unet"}}],
            "shifts": shifts,
        }
    )


@pytest.mark.parametrize("with_shifts", [True, False])
def test_write_run_images(tmp_path: Path, with_shifts: bool) -> None:
    manifest = _dataset(tmp_path / "data")
    shifts: list[dict[str, object]] = [{"shift": "bias_field", "severities": [1, 3]}] if with_shifts else []
    protocol = _protocol(manifest, shifts)
    records = list_cases(protocol.dataset, tmp_path / "cache")
    out = tmp_path / "run"
    out.mkdir()
    notes = write_run_images(out, protocol, records, make_plan(protocol, records))
    assert notes == []
    assert (out / DATA_PREVIEW).read_bytes().startswith(PNG_SIGNATURE)
    assert (out / GALLERY).is_file() is with_shifts
    if with_shifts:
        assert (out / GALLERY).read_bytes().startswith(PNG_SIGNATURE)


def test_unreadable_cases_give_notes_not_errors(tmp_path: Path) -> None:
    manifest = _dataset(tmp_path / "data")
    protocol = _protocol(manifest, [{"shift": "bias_field", "severities": [1]}])
    records = list_cases(protocol.dataset, tmp_path / "cache")
    for path in (tmp_path / "data").glob("*_flair.nii.gz"):
        path.write_bytes(b"broken")
    out = tmp_path / "run"
    out.mkdir()
    notes = write_run_images(out, protocol, records, make_plan(protocol, records))
    assert len(notes) == 2
    assert notes[0].startswith("dataset preview not drawn")
    assert notes[1].startswith("shift gallery not drawn")
    assert not (out / DATA_PREVIEW).exists()
