"""Spatial shifts move images, label and ignore together; orientation shifts keep world positions (or, for
header_mismatch, deliberately break them); the scanner shift re-grids everything consistently."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shift_helpers import dice, make_shift

from robusteval.data.case import Case
from robusteval.shifts import SHIFTS, Touches
from robusteval.shifts._orientation import reorient

SPATIAL = [n for n in SHIFTS.names() if SHIFTS.get(n).touches is Touches.IMAGE_AND_LABEL]


def with_label_channel(case: Case) -> Case:
    """The case plus an image channel that is the label itself (and one that is the ignore mask)."""
    extra = {"lab": case.label.astype(np.float32) * 1000.0}
    if case.ignore is not None:
        extra["ign"] = case.ignore.astype(np.float32) * 1000.0
    return case.with_(images={**case.images, **extra})


def test_spatial_family_is_what_moves() -> None:
    assert set(SPATIAL) == {"affine", "elastic", "scanner", "flip", "permute_axes", "rot90", "header_mismatch"}


@pytest.mark.parametrize("name", SPATIAL)
@pytest.mark.parametrize("severity", [2, 5])
def test_label_and_ignore_stay_on_their_image(name: str, severity: int, phantom_ignore: Case) -> None:
    """An image channel equal to the label, shifted like an image, still equals the shifted label."""
    case = with_label_channel(phantom_ignore)
    shift = make_shift(name)
    params = shift.sample(severity, np.random.default_rng(severity))
    if name == "scanner":  # only the re-gridding moves voxels: keep the intensities in the label's units
        params.update(gamma=1.0, bias_strength=0.0, intensity_scale=1.0, noise_std_rel=0.0)
    out = shift.apply(case, params)
    assert out.label.sum() > 0.5 * case.label.sum()
    lab = out.images["lab"] >= 500.0
    assert dice(lab, out.label) > 0.9
    assert out.ignore is not None
    assert dice(out.images["ign"] >= 500.0, out.ignore) > 0.8
    if out.shape == case.shape:
        assert not np.array_equal(out.label, case.label)


@pytest.mark.parametrize("name", ["affine", "elastic", "scanner"])
def test_lesions_stay_under_their_hyperintensity(name: str, anatomy_case: Case) -> None:
    """On the synthetic subject, FLAIR inside the shifted label stays far above FLAIR in the rest of the brain."""

    def contrast(c: Case) -> float:
        flair = c.images["flair"]
        brain = flair > 0.1 * np.percentile(flair, 99)
        return float(flair[c.label].mean() / flair[brain & ~c.label].mean())

    clean = contrast(anatomy_case)
    assert clean > 1.8
    shift = make_shift(name)
    for severity in (1, 3, 5):
        out = shift.apply(anatomy_case, shift.sample(severity, np.random.default_rng(0)))
        assert out.label.sum() > 0
        assert contrast(out) > 0.8 * clean, (name, severity)
    # a control that can fail: the label moved against its image loses the contrast
    moved = anatomy_case.with_(label=np.roll(anatomy_case.label, 4, axis=1))
    assert contrast(moved) < 0.8 * clean


def _world_sample(case: Case, world: np.ndarray) -> np.ndarray:
    """FLAIR at world points (nearest voxel of ``case``)."""
    idx = np.linalg.solve(case.affine, np.vstack([world.T, np.ones(len(world))]))[:3].T
    ijk = np.rint(idx).astype(int)
    return case.images["flair"][ijk[:, 0], ijk[:, 1], ijk[:, 2]]


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("flip", {"axis": 1}, lambda a: np.flip(a, 1)),
        ("flip", {"axis": 2}, lambda a: np.flip(a, 2)),
        ("permute_axes", {"order": [2, 0, 1]}, lambda a: np.transpose(a, (2, 0, 1))),
        ("rot90", {"k": 1, "axes": [0, 1]}, lambda a: np.rot90(a, 1, (0, 1))),
        ("rot90", {"k": 3, "axes": [1, 2]}, lambda a: np.rot90(a, 3, (1, 2))),
        ("rot90", {"k": 2, "axes": [2, 0]}, lambda a: np.rot90(a, 2, (2, 0))),
    ],
)
def test_orientation_arrays_and_world_positions(name: str, options: dict, expected, phantom_ignore: Case) -> None:  # type: ignore[no-untyped-def]
    shift = make_shift(name, **options)
    params = json.loads(json.dumps(shift.sample(1, np.random.default_rng(0))))
    out = shift.apply(phantom_ignore, params)
    for m, img in phantom_ignore.images.items():
        np.testing.assert_array_equal(out.images[m], expected(img))
    np.testing.assert_array_equal(out.label, expected(phantom_ignore.label))
    assert out.ignore is not None
    assert phantom_ignore.ignore is not None
    np.testing.assert_array_equal(out.ignore, expected(phantom_ignore.ignore))
    # every voxel keeps its world position: sampling both at the same world points gives the same values
    rng = np.random.default_rng(1)
    ijk = np.stack([rng.integers(0, n, 200) for n in phantom_ignore.shape], axis=1)
    world = (phantom_ignore.affine @ np.vstack([ijk.T, np.ones(200)]))[:3].T
    np.testing.assert_array_equal(_world_sample(out, world), _world_sample(phantom_ignore, world))
    assert abs(np.linalg.det(out.affine[:3, :3])) == pytest.approx(abs(np.linalg.det(phantom_ignore.affine[:3, :3])))


def test_header_mismatch_flips_the_data_but_keeps_the_header(phantom_ignore: Case) -> None:
    shift = make_shift("header_mismatch")
    out = shift.apply(phantom_ignore, shift.sample(3, np.random.default_rng(0)))
    np.testing.assert_array_equal(out.affine, phantom_ignore.affine)
    np.testing.assert_array_equal(out.images["t1"], phantom_ignore.images["t1"][::-1, ::-1, :])
    np.testing.assert_array_equal(out.label, phantom_ignore.label[::-1, ::-1, :])
    # LPS data under a RAS header: the voxel at world (x, y, z) holds the anatomy of (-x, -y, z)
    # (the phantom's grid is centred on the world origin)
    ijk = np.argwhere(phantom_ignore.label)[:50]
    world = (phantom_ignore.affine @ np.vstack([ijk.T, np.ones(len(ijk))]))[:3].T
    mirrored = world * np.array([-1.0, -1.0, 1.0])
    np.testing.assert_array_equal(_world_sample(out, mirrored), _world_sample(phantom_ignore, world))


def test_reorient_identity_returns_the_case(phantom_case: Case) -> None:
    assert reorient(phantom_case, [0, 1, 2], [], keep_header=False) is phantom_case


@pytest.mark.parametrize("profile", ["A", "B", "C"])
def test_scanner_regrids_to_the_profile(profile: str, phantom_ignore: Case) -> None:
    shift = make_shift("scanner", profile=profile)
    case = phantom_ignore.with_(affine=np.diag([1.0, 1.0, 1.0, 1.0]))  # 1 mm voxels: every profile is coarser
    for severity, weight in ((1, 0.2), (5, 1.0)):
        params = shift.sample(severity, np.random.default_rng(0))
        assert params["weight"] == weight
        out = shift.apply(case, params)
        target = [1.0 + weight * (p - 1.0) for p in params["profile_spacing_mm"]]
        np.testing.assert_allclose(out.spacing_mm, target, rtol=1e-12)
        # same field of view: shape x spacing is (about) preserved
        fov_in = np.asarray(case.shape) * np.asarray(case.spacing_mm)
        fov_out = np.asarray(out.shape) * np.asarray(out.spacing_mm)
        assert np.all(np.abs(fov_out - fov_in) <= np.asarray(out.spacing_mm) / 2 + 1e-9)
        # the grid's first voxel centre sits half a new voxel inside the old field of view
        corner_in = case.affine[:3, :3] @ np.full(3, -0.5) + case.affine[:3, 3]
        corner_out = out.affine[:3, :3] @ np.full(3, -0.5) + out.affine[:3, 3]
        np.testing.assert_allclose(corner_out, corner_in, atol=1e-9)
        # lesion volume (mm3) about preserved by the partial-volume threshold
        vol_in = case.label.sum() * np.prod(case.spacing_mm)
        vol_out = out.label.sum() * np.prod(out.spacing_mm)
        assert 0.6 * vol_in < vol_out < 1.4 * vol_in


def test_scanner_never_refines_the_grid(phantom_case: Case) -> None:
    shift = make_shift("scanner", profile="A")  # 1 x 1 x 1.2 mm, finer than the phantom's 2 mm
    out = shift.apply(phantom_case, shift.sample(5, np.random.default_rng(0)))
    assert out.shape == phantom_case.shape
    np.testing.assert_allclose(out.spacing_mm, phantom_case.spacing_mm)
    assert not np.array_equal(out.images["flair"], phantom_case.images["flair"])


def test_affine_pure_translation_moves_content_by_whole_voxels(phantom_case: Case) -> None:
    """A translation of +4 mm along x on a 2 mm grid moves label and image by exactly +2 voxels (toward +x)."""
    shift = make_shift("affine")
    params = {"degrees_bound": 0.0, "translation_bound_mm": 4.0, "degrees": [0.0, 0.0, 0.0],
              "translation_mm": [4.0, 0.0, 0.0]}  # fmt: skip
    out = shift.apply(phantom_case, params)
    com_in = np.argwhere(phantom_case.label).mean(axis=0)
    com_out = np.argwhere(out.label).mean(axis=0)
    np.testing.assert_allclose(com_out - com_in, [2.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(
        out.images["flair"][4:-4], np.roll(phantom_case.images["flair"], 2, axis=0)[4:-4], rtol=1e-5, atol=1e-3
    )
