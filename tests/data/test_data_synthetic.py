"""The synthetic generator: determinism, lesion placement, lesion-load distributions, site profiles."""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path

import cc3d
import nibabel as nib
import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import ndimage

from robusteval.commands.data import register
from robusteval.data.synthetic import (
    FLAIR_CONTRAST,
    SITES,
    T1_CONTRAST,
    Anatomy,
    SynthSpec,
    _subject_rng,
    acquire,
    generate,
    make_anatomy,
)
from robusteval.errors import RobustEvalError

# The lesion-load table of robusteval/data/synthetic.py and docs/data.md (volume mL, count of 26-connected
# components): (min, p5, median, p95, max) per grade, measured with seed 0.
DOCUMENTED_4MM = {
    "low": ((0.0, 0.13, 0.64, 2.5, 7.7), (0, 2, 5, 10, 13)),
    "medium": ((1.9, 2.5, 3.5, 6.7, 11.8), (6, 9, 15, 21, 23)),
    "high": ((7.2, 8.1, 12.0, 16.8, 23.0), (14, 19, 24, 30, 31)),
}
DOCUMENTED_2MM = {
    "low": ((0.016, 0.06, 0.48, 2.1, 3.3), (2, 3, 6, 9, 12)),
    "medium": ((4.1, 4.7, 6.6, 10.6, 11.6), (16, 16, 20, 27, 32)),
    "high": ((17.8, 18.6, 32.2, 40.5, 41.8), (20, 22, 30, 41, 42)),
}
GRADE_P = {"low": 0.4, "medium": 0.4, "high": 0.2}


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="robusteval")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def lesion_stats(anatomy: Anatomy, resolution_mm: float) -> tuple[float, int]:
    """(volume mL, number of 26-connected components) of the working-grid label."""
    label = (anatomy.lesion >= 0.5).astype(np.uint8)
    count = int(cc3d.connected_components(label, connectivity=26, return_N=True)[1])
    return float(label.sum()) * resolution_mm**3 / 1000.0, count


# ---------------------------------------------------------------- determinism


def test_same_arguments_give_identical_bytes_via_cli_and_generate(tmp_path: Path) -> None:
    sites = ("--sites", "A", "C")
    args = (*sites, "--subjects", "1", "--train-subjects", "1", "--resolution", "4", "--seed", "3", "--generator", "2")
    assert cli("data", "synth", "--out", str(tmp_path / "one"), *args) == 0
    assert cli("data", "synth", "--out", str(tmp_path / "two"), *args) == 0
    spec = SynthSpec(sites=("A", "C"), test_subjects=1, train_subjects=1, resolution_mm=4.0, seed=3, version="2")
    generate(spec, tmp_path / "three")
    one, two, three = (tree_bytes(tmp_path / d) for d in ("one", "two", "three"))
    assert len(one) == 2 * 2 * 4 + 2  # 4 subjects x (flair, t1, label, rater 2's label) + manifest + spec
    assert one == two == three
    # rerunning into the same folder reuses it (nothing rewritten)
    assert cli("data", "synth", "--out", str(tmp_path / "one"), *args) == 0
    assert tree_bytes(tmp_path / "one") == one
    # another seed gives other images
    generate(dataclasses.replace(spec, seed=4), tmp_path / "four")
    four = tree_bytes(tmp_path / "four")
    assert four.keys() == one.keys()
    assert four["images/A-test-000_flair.nii.gz"] != one["images/A-test-000_flair.nii.gz"]


def test_generate_refuses_a_folder_holding_other_data(tmp_path: Path) -> None:
    spec = SynthSpec(sites=("B",), test_subjects=1, resolution_mm=4.0)
    generate(spec, tmp_path / "ds")
    with pytest.raises(RobustEvalError, match="other parameters"):
        generate(dataclasses.replace(spec, seed=1), tmp_path / "ds")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RobustEvalError, match="not a dataset"):
        generate(spec, tmp_path / "other")
    with pytest.raises(RobustEvalError, match="unknown site"):
        generate(SynthSpec(sites=("Z",)), tmp_path / "z")
    assert not list(tmp_path.glob("*.tmp*"))  # no temporary folder left behind


def test_train_and_test_subjects_are_disjoint(synth_dataset: Path, tmp_path: Path) -> None:
    spec = SynthSpec(sites=("A",), test_subjects=1, train_subjects=1, resolution_mm=4.0)
    with generate(spec, tmp_path / "ds").open() as f:
        rows = list(csv.DictReader(f))
    subjects = [(r["partition"], r["subject_id"]) for r in rows]
    assert subjects == [("train", "A-train-000"), ("test", "A-test-000")]
    train, test = (nib.load(str(tmp_path / "ds" / r["flair"])).get_fdata() for r in rows)
    assert not np.array_equal(train, test)


# ---------------------------------------------------------------- lesions


@pytest.fixture(scope="module")
def anatomies_4mm() -> list[Anatomy]:
    """15 test subjects of each site at 4 mm, seed 0 (as generate() names them)."""
    return [make_anatomy(_subject_rng(0, f"{s}-test-{i:03d}"), 4.0) for s in "ABC" for i in range(15)]


@pytest.fixture(scope="module")
def anatomies_2mm() -> list[Anatomy]:
    return [make_anatomy(_subject_rng(0, f"{s}-test-000"), 2.0) for s in "ABC"]


def test_lesions_only_inside_white_matter(anatomies_4mm: list[Anatomy], anatomies_2mm: list[Anatomy]) -> None:
    for anatomy in [*anatomies_4mm[:6], *anatomies_2mm]:
        lesion = anatomy.lesion >= 0.5
        assert lesion.any()
        assert (anatomy.wm[lesion] > 0.5).all()
        # the partial-volume fraction never exceeds the white matter it is part of
        assert (anatomy.lesion <= anatomy.wm + 1e-6).all()
        assert (anatomy.gm + anatomy.wm + anatomy.csf <= 1.0 + 1e-5).all()


def test_lesion_load_and_count_within_documented_ranges_4mm(anatomies_4mm: list[Anatomy]) -> None:
    by_grade: dict[str, list[tuple[float, int]]] = {g: [] for g in DOCUMENTED_4MM}
    for anatomy in anatomies_4mm:
        by_grade[anatomy.grade].append(lesion_stats(anatomy, 4.0))
    n = len(anatomies_4mm)
    for grade, stats in by_grade.items():
        (vmin, v5, _, v95, vmax), (cmin, c5, _, c95, cmax) = DOCUMENTED_4MM[grade]
        expected = GRADE_P[grade] * n
        tolerance = 3.3 * np.sqrt(expected * (1 - GRADE_P[grade]))  # binomial, ~0.1% two-sided
        assert abs(len(stats) - expected) <= tolerance, (grade, len(stats))
        volumes, counts = np.array([s[0] for s in stats]), np.array([s[1] for s in stats])
        assert vmin <= volumes.min(), (grade, volumes)
        assert volumes.max() <= vmax, (grade, volumes)
        assert cmin <= counts.min(), (grade, counts)
        assert counts.max() <= cmax, (grade, counts)
        assert v5 <= np.median(volumes) <= v95, (grade, np.median(volumes))
        assert c5 <= np.median(counts) <= c95, (grade, np.median(counts))
    medians = [np.median([s[0] for s in by_grade[g]]) for g in ("low", "medium", "high")]
    assert medians[0] < medians[1] < medians[2]


def test_lesion_sizes_are_heavy_tailed(anatomies_4mm: list[Anatomy]) -> None:
    sizes = []
    for anatomy in anatomies_4mm:
        components = cc3d.connected_components((anatomy.lesion >= 0.5).astype(np.uint8), connectivity=26)
        sizes.extend(np.bincount(components.ravel())[1:].tolist())
    sizes_arr = np.array(sizes)
    assert np.median(sizes_arr) <= 2  # most lesions are a voxel or two at 4 mm ...
    assert sizes_arr.max() >= 30 * np.median(sizes_arr)  # ... a few are large and confluent


def test_lesion_load_within_documented_ranges_2mm(anatomies_2mm: list[Anatomy]) -> None:
    for anatomy in anatomies_2mm:
        volume, count = lesion_stats(anatomy, 2.0)
        (vmin, *_, vmax), (cmin, *_, cmax) = DOCUMENTED_2MM[anatomy.grade]
        assert vmin <= volume <= vmax, (anatomy.grade, volume)
        assert cmin <= count <= cmax, (anatomy.grade, count)


# ---------------------------------------------------------------- sites


def phantom(n: int = 48, lesion: slice | None = None) -> Anatomy:
    """A 1 mm cube of white matter (4 voxels of background around it), optionally with a lesion slab in z."""
    wm = np.zeros((n, n, n), dtype=np.float32)
    wm[4:-4, 4:-4, 4:-4] = 1.0
    les = np.zeros_like(wm)
    if lesion is not None:
        les[12:36, 12:36, lesion] = 1.0
    zero = np.zeros_like(wm)
    return Anatomy(gm=zero, wm=wm, csf=zero, lesion=les, affine=np.eye(4), grade="low")


def second_difference_noise_std(image: NDArray[np.float32], mask: NDArray[np.bool_]) -> float:
    """Noise std from the second difference along each axis (removes smooth signal: bias, texture)."""
    estimates = []
    for axis in range(3):
        a, m = np.moveaxis(image, axis, 0), np.moveaxis(mask, axis, 0)
        d = a[:-2] - 2 * a[1:-1] + a[2:]
        ok = m[:-2] & m[1:-1] & m[2:]
        if ok.sum() > 50:
            estimates.append(float(np.std(d[ok])) / np.sqrt(6.0))
    return float(np.mean(estimates))


def zooms(affine: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0)))


@pytest.mark.parametrize("site", sorted(SITES))
def test_site_voxel_size_and_snr_on_a_phantom(site: str) -> None:
    profile = dataclasses.replace(SITES[site], bias_strength=0.0)  # isolate the noise model
    images, label, affine = acquire(phantom(), profile, np.random.default_rng(7), 1.0)
    assert np.allclose(zooms(affine), SITES[site].spacing_mm)
    assert label.shape == images["flair"].shape == images["t1"].shape
    assert not label.any()
    centres = np.indices(label.shape).reshape(3, -1).T @ affine[:3, :3].T + affine[:3, 3]
    interior = np.all((centres > 10) & (centres < 37), axis=1).reshape(label.shape)
    for name in ("flair", "t1"):
        snr = float(images[name][interior].mean()) / second_difference_noise_std(images[name], interior)
        assert snr == pytest.approx(SITES[site].snr, rel=0.06), (name, snr)
        # skull-stripped: exactly zero outside the brain
        assert images[name][0, 0, 0] == 0.0


def test_site_snr_and_contrast_on_generated_subjects(anatomies_2mm: list[Anatomy]) -> None:
    measured = {}
    for site, anatomy in zip("ABC", anatomies_2mm, strict=True):
        profile = SITES[site]
        rng = _subject_rng(0, f"{site}-test-000", "scan", site)  # as generate() scans it
        images, label, affine = acquire(anatomy, profile, rng, 2.0)
        assert np.allclose(zooms(affine), [max(s, 2.0) for s in profile.spacing_mm])
        # deep white matter, far from lesions, mapped onto the acquisition grid through the affines
        far_from_lesions = ndimage.maximum_filter(anatomy.lesion, 5) == 0
        deep = (ndimage.minimum_filter(anatomy.wm, size=3) > 0.97) & far_from_lesions
        to_work = np.linalg.inv(anatomy.affine) @ affine
        idx = np.indices(label.shape).reshape(3, -1)
        coords = to_work[:3, :3] @ idx + to_work[:3, 3:4]
        deep_acq = ndimage.map_coordinates(deep.astype(np.float32), coords, order=0).reshape(label.shape)
        deep_acq = deep_acq > 0.5
        assert deep_acq.sum() > 300
        for name in ("flair", "t1"):
            sigma = second_difference_noise_std(images[name], deep_acq)
            snr = float(np.median(images[name][deep_acq])) / sigma
            assert snr == pytest.approx(profile.snr, rel=0.15), (site, name, snr)
            measured[site, name] = snr
        # documented contrast: lesions bright on FLAIR, dark on T1, relative to white matter
        lesion = label.astype(bool)
        if lesion.sum() >= 5:
            wm_flair, wm_t1 = np.median(images["flair"][deep_acq]), np.median(images["t1"][deep_acq])
            assert np.median(images["flair"][lesion]) > wm_flair
            assert np.median(images["t1"][lesion]) < wm_t1
    for name in ("flair", "t1"):
        assert measured["A", name] > measured["B", name] > measured["C", name]
    assert FLAIR_CONTRAST[3] > FLAIR_CONTRAST[2]
    assert T1_CONTRAST[3] < T1_CONTRAST[2]


def test_label_is_resampled_with_a_partial_volume_threshold() -> None:
    """A 1 mm lesion slab is half or more of a 1.2 mm voxel (site A) but a third of a 3 mm slice (site B)."""
    thin = phantom(lesion=slice(24, 25))
    thick = phantom(lesion=slice(18, 30))
    rng = np.random.default_rng(0)
    _, label_a, _ = acquire(thin, SITES["A"], rng, 1.0)
    _, label_b, _ = acquire(thin, SITES["B"], rng, 1.0)
    _, label_b_thick, affine_b = acquire(thick, SITES["B"], rng, 1.0)
    assert not label_b.any()
    assert label_a.any()
    # a 12 mm slab on 3 mm slices: 4 slices, 24 x 24 mm in plane
    assert label_b_thick.sum() * np.prod(zooms(affine_b)) == pytest.approx(24 * 24 * 12, rel=0.15)


def test_generated_files_match_the_manifest(synth_dataset: Path) -> None:
    with synth_dataset.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["site"] for r in rows] == ["A", "B", "C"]
    for row in rows:
        flair = nib.load(str(synth_dataset.parent / row["flair"]))
        label = nib.load(str(synth_dataset.parent / row["label"]))
        assert flair.get_data_dtype() == np.float32
        assert label.get_data_dtype() == np.uint8
        spacing = [max(s, 4.0) for s in SITES[row["site"]].spacing_mm]
        assert np.allclose(flair.header.get_zooms(), spacing)
        assert row["spacing_mm"] == "x".join(f"{s:.2f}" for s in spacing)
        assert np.allclose(flair.affine, label.affine)
        data = np.asarray(label.dataobj)
        volume = data.sum() * np.prod(spacing) / 1000.0
        assert float(row["lesion_volume_ml"]) == pytest.approx(volume, abs=1e-4)
        assert int(row["lesion_count"]) == cc3d.connected_components(data, connectivity=26, return_N=True)[1]
        assert float(row["field_strength_t"]) == SITES[row["site"]].field_strength_t
