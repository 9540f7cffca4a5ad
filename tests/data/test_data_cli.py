"""The ``data`` command: preview, sites, check; and the reusable preview figure."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from robusteval.commands.data import register
from robusteval.data.case import Case
from robusteval.data.realism import TARGETS
from robusteval.data.synthetic import SITES
from robusteval.viz.preview import preview_manifest
from robusteval.viz.slices import axial_slice_index, to_ras


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="robusteval")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


def test_preview_figure_draws_each_site_with_lesion_outlines(synth_dataset: Path) -> None:
    fig = preview_manifest(synth_dataset)
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) == 3 * 2  # sites A, B, C x FLAIR, T1
    assert [ax.get_title() for ax in axes[:2]] == ["FLAIR", "T1"]
    assert [ax.get_ylabel().split("\n")[0] for ax in axes[::2]] == ["site A", "site B", "site C"]
    for ax in axes:
        assert len(ax.get_images()) == 1
    # every subject at seed 0 has lesions on the chosen slice: each panel carries a contour
    assert all(len(ax.collections) >= 1 for ax in axes)


def test_data_preview_writes_a_png(synth_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "figs" / "preview.png"
    assert cli("data", "preview", str(synth_dataset.parent), "--out", str(out), "--dpi", "40") == 0
    pixels = imread(str(out))
    assert pixels.shape[0] > pixels.shape[1] > 50  # three rows of two panels
    assert pixels[..., :3].std() > 0.05  # not blank


def test_axial_slice_is_the_one_with_most_lesion_in_the_middle_third() -> None:
    shape = (6, 6, 30)
    flair = np.zeros(shape, dtype=np.float32)
    flair[:, :, 3:27] = 1.0  # brain from slice 3 to 26: middle third 11..19
    label = np.zeros(shape, dtype=bool)
    label[2:4, 2:4, 15] = True
    label[1:5, 1:5, 25] = True  # more lesion, but outside the middle third
    case = Case("c", "s", "A", "x", {"flair": flair}, label, np.eye(4))
    assert axial_slice_index(case) == 15
    assert axial_slice_index(case.with_(label=np.zeros(shape, dtype=bool))) == 14  # middle of the brain


def test_to_ras_reorients_a_flipped_case() -> None:
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    lps = np.diag([-1.0, -1.0, 2.0, 1.0])  # x to the left, y to the back
    case = Case("c", "s", "A", "x", {"t1": data}, data > 10, lps)
    ras = to_ras(case)
    np.testing.assert_array_equal(ras.images["t1"], data[::-1, ::-1, :])
    np.testing.assert_array_equal(ras.label, (data > 10)[::-1, ::-1, :])
    assert ras.spacing_mm == (1.0, 1.0, 2.0)
    # the world position of each voxel is kept: voxel (0, 0, 0) of the RAS copy is voxel (1, 2, 0) before
    np.testing.assert_allclose(ras.affine @ [0, 0, 0, 1], lps @ [1, 2, 0, 1])


def test_data_sites_of_generator_1_print_each_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("data", "sites", "--generator", "1") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(SITES)
    assert lines[3].split()[:4] == ["C", "1.5T", "1.2x1.2x3", "14"]


def test_data_sites_of_generator_2_print_its_rendering(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("data", "sites", "--generator", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3].split()[:4] == ["C", "1.5T", "1.2x1.2x3", "18"]
    assert lines[-1].split() == ["C", "3.0", "0.16/0.56/0.50", "0.28/0.60/0.83", "1.00", "0.10"]


def test_data_realism_prints_every_measure_with_its_target(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--sites", "A", "--subjects", "1", "--train-subjects", "1", "--resolution", "4", "--markdown")
    assert cli("data", "realism", *args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| measure | site A | aims at | source |"
    rows = [line.split(" | ") for line in lines[2:]]
    assert len(rows) == len(TARGETS)
    assert [r[0].lstrip("| ") for r in rows] == [t[0] for t in TARGETS]
    assert rows[-1][-1].rstrip(" |") == TARGETS[-1][2]


def test_data_check_counts_and_exit_code(
    synth_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "ds"
    shutil.copytree(synth_dataset.parent, copy)
    assert cli("data", "check", "--source", "manifest", "--path", str(copy / "manifest.csv")) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head == "3 listed, 3 loaded, 0 failed, 0 with an empty reference label"
    (copy / "images" / "B-test-000_t1.nii.gz").unlink()
    assert cli("data", "check", "--source", "manifest", "--path", str(copy)) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "3 listed, 2 loaded, 1 failed, 0 with an empty reference label"
    assert out[1].startswith("  B-test-000: t1: file not found")
