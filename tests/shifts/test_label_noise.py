"""Label-noise shifts change only the reference, exactly as documented (checked against scipy/cc3d and geometry).

The boundary shifts (erode, dilate, elastic) work in millimetres: tested on hand-made balls and planes at
1 mm and at 2 x 2 x 3 mm, where the old whole-voxel versions rounded sub-voxel amounts to 0 or 1 voxel.
Expected volumes are independent values (the shell of a ball, a plane's area x k); averages over draws
because each draw dithers the partial boundary layer at random.
"""

from __future__ import annotations

import itertools
import math

import cc3d
import numpy as np
import pytest
from scipy import ndimage
from shift_helpers import LESIONS, dice, make_shift

from robusteval.data.case import Case
from robusteval.shifts._label_noise import INTER_RATER_BOUNDARY_MM, smooth_field, uniform_field
from robusteval.shifts.base import Touches

GRIDS = [(1.0, 1.0, 1.0), (2.0, 2.0, 3.0)]
WHITE_MM = 0.05  # a dithering correlation far below the voxel size: independent voxels, less variance per draw
MULTIPLIERS = (0.25, 0.5, 1.0, 1.5, 2.0)  # severity 1..5 in inter-rater distances (the task's calibration)


def grid_case(label: np.ndarray, spacing: tuple[float, float, float], origin_mm: np.ndarray) -> Case:
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin_mm
    return Case("hand", "hand", "A", "test", {"flair": np.ones(label.shape, np.float32)}, label, affine)


def ball_case(radius_mm: float, spacing: tuple[float, float, float], rng: np.random.Generator, pad_mm: float) -> Case:
    """A ball of ``radius_mm`` whose centre sits at a random sub-voxel offset, with ``pad_mm`` of background."""
    offset = rng.uniform(-0.5, 0.5, 3)
    axes = []
    for s, o in zip(spacing, offset, strict=True):
        m = math.ceil((radius_mm + pad_mm) / s) + 1
        axes.append((np.arange(-m, m + 1) + o) * s)
    x, y, z = np.meshgrid(*axes, indexing="ij")
    return grid_case(x**2 + y**2 + z**2 <= radius_mm**2, spacing, np.array([a[0] for a in axes]))


def slab_case(spacing: tuple[float, float, float], size_mm: float, height_mm: float, top_mm: float) -> Case:
    """Label = every voxel whose centre lies below ``height_mm`` (world z), over a ``size_mm`` square that runs
    into the array's x/y edges (not a boundary): one flat boundary, normal to the array's third axis."""
    shape = (round(size_mm / spacing[0]), round(size_mm / spacing[1]), round(top_mm / spacing[2]))
    z = (np.arange(shape[2]) + 0.5) * spacing[2]
    label = np.broadcast_to(z < height_mm, shape).copy()
    return grid_case(label, spacing, np.array([0.5 * spacing[0], 0.5 * spacing[1], 0.5 * spacing[2]]))


def column_heights_mm(case: Case, label: np.ndarray) -> np.ndarray:
    return label.sum(axis=2) * case.spacing_mm[2]


# --- calibration: severities in mm, multiples of the inter-rater distance ---------------------------------


@pytest.mark.parametrize(("name", "column"), [("label_erode", "k_mm"), ("label_dilate", "k_mm"),
                                               ("label_elastic", "amplitude_mm")])  # fmt: skip
def test_boundary_severities_are_multiples_of_the_inter_rater_distance(name: str, column: str) -> None:
    rows = make_shift(name).severity_table()
    assert [r[column] for r in rows] == [round(m * INTER_RATER_BOUNDARY_MM, 6) for m in MULTIPLIERS]
    assert rows[2][column] == INTER_RATER_BOUNDARY_MM  # severity 3: one inter-rater distance
    params = make_shift(name).sample(0, np.random.default_rng(0))
    assert params[column] == 0.0
    assert isinstance(params["seed"], int)


# --- erosion and dilation by k mm --------------------------------------------------------------------------


@pytest.mark.parametrize("spacing", GRIDS, ids=["1mm", "2x2x3mm"])
@pytest.mark.parametrize("k", [0.25, 1.0, 2.5])
def test_erosion_and_dilation_move_a_plane_by_k_mm_on_any_grid(spacing: tuple[float, float, float], k: float) -> None:
    """Every column of a flat slab loses / gains k mm on average: 0.25 mm on 3 mm slices is 1 column in 12
    losing its top voxel, not 0 voxels (rounding down) or 3 mm (a whole voxel). 16384 independently dithered
    columns over the draws: the binomial standard error of the mean is at most 2.6% of k (0.25 mm on 3 mm
    slices); allowed 8%."""
    case = slab_case(spacing, 64.0, 12.0, 24.0)
    clean = column_heights_mm(case, case.label)
    for name, sign in (("label_erode", -1.0), ("label_dilate", 1.0)):
        shift = make_shift(name)
        moved = []
        for seed in range(16384 // clean.size):
            out = shift.apply(case, {"k_mm": k, "correlation_mm": WHITE_MM, "seed": seed})
            moved.append(sign * (column_heights_mm(case, out.label) - clean))
        moved_mm = np.asarray(moved)
        assert moved_mm.min() >= 0.0  # erosion only removes, dilation only adds
        assert moved_mm.mean() == pytest.approx(k, rel=0.08), name


def shell_k_mm(radius: float, dv: float) -> float:
    """The boundary displacement k (mm) whose shell of a ball of ``radius`` has volume ``dv`` (< 0: inward)."""
    return (
        radius - np.cbrt(radius**3 + 3.0 * dv / (4.0 * math.pi))
        if dv < 0
        else np.cbrt(radius**3 + 3.0 * dv / (4.0 * math.pi)) - radius
    )


@pytest.mark.parametrize("spacing", GRIDS, ids=["1mm", "2x2x3mm"])
@pytest.mark.parametrize("k", [0.25, 1.0, 2.0])
def test_erosion_and_dilation_change_a_ball_by_a_k_mm_shell(spacing: tuple[float, float, float], k: float) -> None:
    """A ball of 8 mm at random sub-voxel positions loses (gains) the volume of a k mm shell.

    Measured as the k whose analytic shell has the mean volume change over 12 draws. Tolerance 0.1 mm +
    10% of k: the digitised ball's surface is uncertain by the voxel size, and linear interpolation across a
    curved boundary biases the displacement by about s^2 / (12 R) (<= 0.06 mm here; inward for erosion,
    outward for dilation); the mean of 12 draws has a standard error <= 0.04 mm."""
    radius = 8.0
    rng = np.random.default_rng(int(k * 100) + int(spacing[2]))
    for name, sign in (("label_erode", -1.0), ("label_dilate", 1.0)):
        shift = make_shift(name)
        changes = []
        for seed in range(12):
            case = ball_case(radius, spacing, rng, pad_mm=k + 6.0)
            out = shift.apply(case, {"k_mm": k, "correlation_mm": WHITE_MM, "seed": seed})
            changes.append((int(out.label.sum()) - int(case.label.sum())) * float(np.prod(spacing)))
        mean_change = float(np.mean(changes))
        assert sign * mean_change > 0
        assert shell_k_mm(radius, mean_change) == pytest.approx(k, abs=0.1 + 0.1 * k), (name, mean_change)


@pytest.mark.parametrize("name", ["label_erode", "label_dilate", "label_elastic"])
def test_zero_is_the_identity_and_tiny_amounts_change_little(name: str, phantom_case: Case) -> None:
    shift = make_shift(name)
    column = "amplitude_mm" if name == "label_elastic" else "k_mm"
    params = shift.sample(3, np.random.default_rng(0))
    assert shift.apply(phantom_case, {**params, column: 0.0}) is phantom_case
    # continuity at 0: 0.01 mm on 2 mm voxels changes about 0.5% of the boundary layer
    tiny = shift.apply(phantom_case, {**params, column: 0.01}).label
    boundary = phantom_case.label & ~ndimage.binary_erosion(phantom_case.label)
    assert int((tiny ^ phantom_case.label).sum()) <= 0.05 * int(boundary.sum())


def test_erosion_keeps_the_core_of_every_lesion(phantom_case: Case) -> None:
    """Erosion moves boundaries and never deletes a lesion: at any k the deepest voxel (Euclidean distance in
    mm to the background; ties: first in raster order) of every 26-connected lesion stays; far beyond every
    lesion's radius only those cores are left."""
    label = phantom_case.label
    components, n = cc3d.connected_components(label, connectivity=26, return_N=True)
    depth = ndimage.distance_transform_edt(label, sampling=phantom_case.spacing_mm)
    cores = np.zeros_like(label)
    for i in range(1, n + 1):
        flat = np.flatnonzero(components == i)
        cores.flat[flat[np.argmax(depth.flat[flat])]] = True
    shift = make_shift("label_erode")
    for severity in range(1, 6):
        out = shift.apply(phantom_case, shift.sample(severity, np.random.default_rng(severity))).label
        assert (out >= cores).all(), severity
        kept = np.unique(components[out])
        assert set(kept.tolist()) - {0} == set(range(1, n + 1))
    huge = shift.apply(phantom_case, {"k_mm": 50.0, "correlation_mm": 4.0, "seed": 1}).label
    np.testing.assert_array_equal(huge, cores)
    assert n == len(LESIONS)


def test_dilation_and_elastic_never_enter_the_ignore_mask(phantom_ignore: Case) -> None:
    """The ignore mask is a one-voxel shell around the largest lesion: dilation by up to 2 voxels and the
    elastic warp add label elsewhere but never inside it."""
    ignore = phantom_ignore.ignore
    assert ignore is not None
    for name, params in [
        ("label_dilate", {"k_mm": 4.0, "correlation_mm": 4.0, "seed": 3}),
        ("label_dilate", make_shift("label_dilate").sample(5, np.random.default_rng(1))),
        ("label_elastic", make_shift("label_elastic").sample(5, np.random.default_rng(2))),
    ]:
        out = make_shift(name).apply(phantom_ignore, params).label
        added = out & ~phantom_ignore.label
        assert added.any(), name
        assert not (added & ignore).any(), name
    # without the mask, the same dilation does fill the shell
    no_mask = phantom_ignore.with_(ignore=None)
    grown = make_shift("label_dilate").apply(no_mask, {"k_mm": 4.0, "correlation_mm": 4.0, "seed": 3}).label
    assert (grown & ignore).sum() > 0.9 * ignore.sum()


# --- the random fields -------------------------------------------------------------------------------------


def test_dithering_field_is_uniform_and_smooth_in_mm() -> None:
    """u = Phi(f) is uniform on (0, 1) (deciles within 0.02 over 40 seeds x 500 points far apart) and
    correlated over its 4 mm length scale: nearly equal 0.5 mm apart, independent 20 mm apart."""
    rng = np.random.default_rng(0)
    points = rng.uniform(-200.0, 200.0, (500, 3))
    u = np.concatenate([uniform_field(seed, points, 4.0) for seed in range(40)])
    assert np.quantile(u, np.linspace(0.1, 0.9, 9)) == pytest.approx(np.linspace(0.1, 0.9, 9), abs=0.02)
    near, far = points + np.array([0.5, 0.0, 0.0]), points + np.array([0.0, 20.0, 0.0])
    f = np.concatenate([smooth_field(s, 0, points, 4.0) for s in range(40)])
    f_near = np.concatenate([smooth_field(s, 0, near, 4.0) for s in range(40)])
    f_far = np.concatenate([smooth_field(s, 0, far, 4.0) for s in range(40)])
    assert np.corrcoef(f, f_near)[0, 1] == pytest.approx(math.exp(-(0.5**2) / 32.0), abs=0.02)
    assert abs(np.corrcoef(f, f_far)[0, 1]) < 0.05
    assert f.std() == pytest.approx(1.0, abs=0.03)


# --- label_elastic in mm -----------------------------------------------------------------------------------


def test_label_elastic_moves_a_plane_by_its_amplitude_in_mm_on_any_grid() -> None:
    """On a flat slab the boundary's displacement is the field's component along the normal: its mean
    absolute value is ``amplitude_mm`` (1.0 and 0.5 mm, on 1 mm and 2 x 2 x 3 mm voxels, where 0.5 mm is a
    sixth of a slice). Measured with a 4 mm correlation length (more independent patches per draw than the
    default 8 mm): over 64 x 64 mm a draw's mean |displacement| varies by 9% (1 mm) to 21% (0.5 mm on 3 mm
    slices), so 4 draws at 1 mm and 24 at 2 x 2 x 3 mm give a standard error of at most 4.5%; allowed 15%."""
    shift = make_shift("label_elastic")
    for spacing in GRIDS:
        case = slab_case(spacing, 64.0, 12.0, 24.0)
        clean = column_heights_mm(case, case.label)
        for amplitude in (1.0, 0.5):
            moved = []
            for seed in range(4 if spacing == GRIDS[0] else 24):
                params = {
                    **shift.sample(3, np.random.default_rng(seed)),
                    "amplitude_mm": amplitude,
                    "smoothing_mm": 4.0,
                }
                moved.append(column_heights_mm(case, shift.apply(case, params).label) - clean)
            assert np.abs(moved).mean() == pytest.approx(amplitude, rel=0.15), (spacing, amplitude)
            assert abs(float(np.mean(moved))) < 0.2 * amplitude  # no net growth or shrinkage


def test_label_elastic_is_one_physical_warp_on_every_grid() -> None:
    """One seed moves the same world columns alike on 1 mm and 2 x 2 x 3 mm voxels (the field is a function of
    world position; mean displacement 2 mm): the 1 mm grid's displacement averaged over 2 x 2 mm blocks
    correlates with the coarse grid's (whose 3 mm slices add dithering noise)."""
    shift = make_shift("label_elastic")
    params = {**shift.sample(5, np.random.default_rng(0)), "amplitude_mm": 2.0}
    moved = []
    for spacing in GRIDS:
        case = slab_case(spacing, 64.0, 12.0, 28.0)
        moved.append(column_heights_mm(case, shift.apply(case, params).label) - column_heights_mm(case, case.label))
    fine = moved[0].reshape(32, 2, 32, 2).mean(axis=(1, 3))
    assert np.corrcoef(fine.ravel(), moved[1].ravel())[0, 1] > 0.8


def test_label_elastic_keeps_volume_and_perturbs_the_boundary(phantom_case: Case) -> None:
    """Mean displacements of 0.5, 1 and 2 mm (a quarter to one 2 mm voxel) keep the lesion volume and lower
    the overlap step by step."""
    shift = make_shift("label_elastic")
    previous = 1.0
    for amplitude in (0.5, 1.0, 2.0):
        scores = []
        for seed in range(3):
            params = {**shift.sample(3, np.random.default_rng(seed)), "amplitude_mm": amplitude}
            out = shift.apply(phantom_case, params)
            assert 0.5 * phantom_case.label.sum() < out.label.sum() < 1.5 * phantom_case.label.sum()
            scores.append(dice(out.label, phantom_case.label))
        mean = float(np.mean(scores))
        assert mean < previous
        previous = mean
    assert previous < 0.8


# --- the other label-noise shifts --------------------------------------------------------------------------


@pytest.mark.parametrize(("severity", "n_dropped"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)])
def test_drop_small_removes_the_smallest_lesions(severity: int, n_dropped: int, phantom_case: Case) -> None:
    """The phantom has 6 lesions of distinct sizes: round(fraction x 6) smallest go, the rest stay intact."""
    labels = cc3d.connected_components(phantom_case.label, connectivity=26)
    sizes = np.bincount(labels.ravel())[1:]
    assert len(sizes) == len(LESIONS)
    assert len(set(sizes.tolist())) == len(sizes)
    shift = make_shift("label_drop_small")
    out = shift.apply(phantom_case, shift.sample(severity, np.random.default_rng(0)))
    kept = np.bincount(cc3d.connected_components(out.label, connectivity=26).ravel())[1:]
    assert sorted(kept.tolist()) == sorted(sizes.tolist())[n_dropped:]
    assert not (out.label & ~phantom_case.label).any()


def test_add_spurious_adds_small_lesions_in_the_foreground_only(phantom_ignore: Case) -> None:
    shift = make_shift("label_add_spurious")
    params = shift.sample(5, np.random.default_rng(4))
    assert len(params["positions"]) == 10
    assert all(1.0 <= r <= 2.5 for r in params["radii_mm"])
    out = shift.apply(phantom_ignore, params)
    added = out.label & ~phantom_ignore.label
    assert (out.label >= phantom_ignore.label).all()  # nothing removed
    assert phantom_ignore.ignore is not None
    assert not (added & phantom_ignore.ignore).any()
    flair = phantom_ignore.images["flair"]
    assert (flair[added] > 0.1 * np.percentile(flair, 99)).all()
    n_new = cc3d.connected_components(added, connectivity=26, return_N=True)[1]
    assert 1 <= n_new <= 10
    # each ball of radius <= 2.5 mm on 2 mm voxels holds at most 1 + 6 voxels (centre and face neighbours)
    assert added.sum() <= 7 * 10


@pytest.mark.parametrize(
    "name", ["label_erode", "label_dilate", "label_drop_small", "label_add_spurious", "label_elastic"]
)
def test_label_noise_overlap_falls_with_severity(name: str, phantom_case: Case) -> None:
    shift = make_shift(name)
    assert shift.touches is Touches.LABEL
    scores = [dice(shift.apply(phantom_case, shift.sample(s, np.random.default_rng(5))).label, phantom_case.label)
              for s in range(6)]  # fmt: skip
    assert scores[0] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(scores)), scores
    assert scores[5] < scores[1]


def test_empty_label_stays_empty_under_erosion_dilation_and_elastic(phantom_case: Case) -> None:
    empty = phantom_case.with_(label=np.zeros_like(phantom_case.label))
    for name in ("label_erode", "label_dilate", "label_drop_small", "label_elastic"):
        shift = make_shift(name)
        assert shift.apply(empty, shift.sample(3, np.random.default_rng(0))) is empty
