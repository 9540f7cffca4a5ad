"""Boundary-distance metrics: hand-computed cases, empty masks, volume edges, MONAI and DeepMind agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metrics_helpers import box, random_masks

from robusteval.metrics import MetricConfig, compute_metrics, worst_distance_mm

SURFACE = ["hd95", "hd", "assd", "masd", "nsd"]
BACKENDS = ["edt", "kdtree"]


def panel(pred, ref, spacing, **config):  # type: ignore[no-untyped-def]
    return compute_metrics(SURFACE, pred, ref, spacing, config=MetricConfig(**config))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("axis", "spacing"), [(0, (2.0, 1.0, 1.5)), (2, (1.0, 1.0, 3.0))])
def test_cube_shifted_by_one_voxel(axis: int, spacing: tuple[float, float, float], backend: str) -> None:
    # 3x3x3 cubes, the prediction one voxel further along `axis`. Boundary: the 26 non-centre voxels.
    # Per direction (by symmetry): 9 voxels of the outer face at one step along the axis (s_axis), the
    # voxel sitting on the other's centre at one step in the finest direction (min s), 16 on the other's
    # boundary (0).
    lo = [3, 3, 3]
    ref = box((10, 10, 10), (3, 3, 3), (6, 6, 6))
    lo[axis] += 1
    pred = box((10, 10, 10), (lo[0], lo[1], lo[2]), (lo[0] + 3, lo[1] + 3, lo[2] + 3))
    s_axis, s_min = spacing[axis], min(spacing)
    directed = np.array([s_axis] * 9 + [s_min] + [0.0] * 16)
    values, notes = panel(pred, ref, spacing, distance_backend=backend, nsd_tolerance_mm=1.0)
    assert notes == {}
    assert values["hd95"] == pytest.approx(np.percentile(directed, 95))
    assert values["hd95"] == pytest.approx(s_axis)  # positions 23.75 of 0..25 are all s_axis
    assert values["hd"] == pytest.approx(s_axis)
    assert values["assd"] == pytest.approx((9 * s_axis + s_min) / 26)
    assert values["masd"] == pytest.approx((9 * s_axis + s_min) / 26)
    assert values["nsd"] == pytest.approx(17 / 26)  # 16 zeros + the s_min = 1 mm voxel


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_single_voxels_anisotropic(backend: str) -> None:
    ref = box((9, 9, 12), (4, 4, 2), (5, 5, 3))
    pred = box((9, 9, 12), (4, 4, 5), (5, 5, 6))  # 3 voxels away along axis 2 at 2 mm
    values, _ = panel(pred, ref, (0.5, 0.7, 2.0), distance_backend=backend, nsd_tolerance_mm=5.9)
    assert values == pytest.approx({"hd95": 6.0, "hd": 6.0, "assd": 6.0, "masd": 6.0, "nsd": 0.0})
    values, _ = panel(pred, ref, (0.5, 0.7, 2.0), distance_backend=backend, nsd_tolerance_mm=6.0)
    assert values["nsd"] == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_hd95_is_max_of_directed_percentiles_not_pooled(backend: str) -> None:
    # Prediction = reference cube + two isolated voxels 8 voxels from the cube. pred->ref: 26 zeros and two
    # 8s -> 95th percentile at position 0.95*27 = 25.65 -> 0.65*8 = 5.2. ref->pred: all 0. Pooled (54
    # values, two 8s) the 95th percentile would be 0.
    ref = box((16, 16, 16), (2, 2, 2), (5, 5, 5))
    pred = ref.copy()
    pred[12, 3, 3] = True  # nearest reference boundary voxel (4, 3, 3)
    pred[3, 3, 12] = True  # nearest (3, 3, 4)
    values, _ = panel(pred, ref, (1.0, 1.0, 1.0), distance_backend=backend)
    assert values["hd95"] == pytest.approx(5.2)
    assert values["hd"] == pytest.approx(8.0)
    assert values["assd"] == pytest.approx(16 / 54)
    assert values["masd"] == pytest.approx(0.5 * 16 / 28)
    assert values["nsd"] == pytest.approx(52 / 54)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mask_filling_the_volume_has_its_edge_as_boundary(backend: str) -> None:
    # Reference = the whole 5^3 volume: voxels beyond the edge are background, so its boundary is the outer
    # shell (98 voxels). Prediction = the central 3^3 cube, boundary 26 voxels, each 1 from the shell.
    # Shell -> prediction boundary: 54 face voxels at 1, 36 edge voxels at sqrt2, 8 corners at sqrt3.
    ref = np.ones((5, 5, 5), dtype=bool)
    pred = box((5, 5, 5), (1, 1, 1), (4, 4, 4))
    shell = 54 + 36 * math.sqrt(2) + 8 * math.sqrt(3)
    values, notes = panel(pred, ref, (1.0, 1.0, 1.0), distance_backend=backend)
    assert notes == {}
    assert values["hd"] == pytest.approx(math.sqrt(3))
    assert values["hd95"] == pytest.approx(math.sqrt(3))  # ref->pred positions 92..93 of 0..97 are corners
    assert values["assd"] == pytest.approx((26 + shell) / 124)
    assert values["masd"] == pytest.approx(0.5 * (1 + shell / 98))
    assert values["nsd"] == pytest.approx((26 + 54) / 124)


def test_both_empty() -> None:
    empty = np.zeros((6, 6, 6), dtype=bool)
    values, notes = panel(empty, empty, (1.0, 1.0, 1.0))
    assert values == {"hd95": 0.0, "hd": 0.0, "assd": 0.0, "masd": 0.0, "nsd": 1.0}
    assert notes == {}


@pytest.mark.parametrize("surface", ["voxel", "surfel"])
@pytest.mark.parametrize("empty_side", ["pred", "ref"])
def test_exactly_one_empty_gives_nan_with_reason(empty_side: str, surface: str) -> None:
    # The non-empty mask touches the volume edge: Metrics Reloaded's EDT of an all-background boundary map
    # would return a finite distance that depends on the position relative to the edge; we return NaN.
    mask = box((8, 8, 8), (0, 0, 0), (3, 3, 8))
    empty = np.zeros_like(mask)
    pred, ref = (empty, mask) if empty_side == "pred" else (mask, empty)
    values, notes = panel(pred, ref, (1.0, 1.0, 1.0), surface=surface)
    for name in ("hd95", "hd", "assd", "masd"):
        assert math.isnan(values[name])
        assert notes[name] == ("prediction empty" if empty_side == "pred" else "reference empty")
    assert values["nsd"] == 0.0
    assert "nsd" not in notes


def test_identical_masks_touching_the_edge() -> None:
    ref = box((6, 7, 8), (0, 2, 5), (3, 7, 8))  # touches three faces of the volume
    values, _ = panel(ref, ref.copy(), (0.8, 1.0, 1.2))
    assert values == {"hd95": 0.0, "hd": 0.0, "assd": 0.0, "masd": 0.0, "nsd": 1.0}


def test_worst_distance_is_the_image_diagonal() -> None:
    assert worst_distance_mm((182, 218, 182), (1.0, 1.0, 1.0)) == pytest.approx(math.sqrt(182**2 + 218**2 + 182**2))
    assert worst_distance_mm((10, 20, 30), (2.0, 0.5, 1.0)) == pytest.approx(math.sqrt(20**2 + 10**2 + 30**2))
    with pytest.raises(ValueError, match="dimension"):
        worst_distance_mm((10, 20), (1.0, 1.0, 1.0))


@pytest.mark.parametrize("seed", range(3))
def test_backends_agree(seed: int) -> None:
    pred, ref = random_masks(seed)
    for surface in ("voxel", "surfel"):
        a, _ = panel(pred, ref, (1.0, 1.2, 2.5), surface=surface, distance_backend="edt", nsd_tolerance_mm=1.3)
        b, _ = panel(pred, ref, (1.0, 1.2, 2.5), surface=surface, distance_backend="kdtree", nsd_tolerance_mm=1.3)
        assert a == pytest.approx(b, rel=1e-6)


# --- MONAI (voxel convention) -------------------------------------------------------------------------


def _monai(pred, ref, spacing, tau):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    from monai.metrics import (
        DiceMetric,
        compute_average_surface_distance,
        compute_hausdorff_distance,
        compute_surface_dice,
    )

    p = torch.from_numpy(pred)[None, None].float()
    r = torch.from_numpy(ref)[None, None].float()
    dice = DiceMetric(include_background=True)
    dice(p, r)
    return {
        "dsc": dice.aggregate().item(),
        "hd95": compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=spacing).item(),
        "hd": compute_hausdorff_distance(p, r, include_background=True, spacing=spacing).item(),
        "assd": compute_average_surface_distance(p, r, include_background=True, symmetric=True, spacing=spacing).item(),
        "nsd": compute_surface_dice(p, r, [tau], include_background=True, spacing=list(spacing)).item(),
    }


@pytest.mark.filterwarnings("ignore:.*always_return_as_numpy.*:FutureWarning")
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_agrees_with_monai(seed: int, backend: str) -> None:
    pred, ref = random_masks(seed)
    pred[0, :6, :6] = True  # touch the volume edge
    spacing = ((1.0, 1.0, 1.0), (0.9, 1.1, 2.0), (1.0, 1.5, 0.8), (2.0, 2.0, 2.0))[seed]
    tau = 1.5
    expected = _monai(pred, ref, spacing, tau)
    ours, _ = compute_metrics(
        list(expected),
        pred,
        ref,
        spacing,
        config=MetricConfig(nsd_tolerance_mm=tau, distance_backend=backend),
    )
    assert ours == pytest.approx(expected, rel=2e-6)


# --- DeepMind surface-distance (surfel convention) ---------------------------------------------------


def _deepmind(pred, ref, spacing, tau):  # type: ignore[no-untyped-def]
    sd = pytest.importorskip("surface_distance")
    if not hasattr(sd, "compute_surface_distances"):
        pytest.skip("the installed surface_distance is not DeepMind's package")
    d = sd.compute_surface_distances(ref, pred, spacing)  # (mask_gt, mask_pred)
    gt_to_pred, pred_to_gt = sd.compute_average_surface_distance(d)
    a_gt, a_pred = d["surfel_areas_gt"], d["surfel_areas_pred"]
    pooled = np.sum(d["distances_gt_to_pred"] * a_gt) + np.sum(d["distances_pred_to_gt"] * a_pred)
    return {
        "hd95": sd.compute_robust_hausdorff(d, 95),
        "hd": sd.compute_robust_hausdorff(d, 100),
        "assd": pooled / (np.sum(a_gt) + np.sum(a_pred)),
        "masd": 0.5 * (gt_to_pred + pred_to_gt),
        "nsd": sd.compute_surface_dice_at_tolerance(d, tau),
    }


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the package uses scipy.ndimage.filters
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("backend", BACKENDS)
def test_surfel_convention_equals_deepmind(seed: int, backend: str) -> None:
    pred, ref = random_masks(seed)
    ref[:, :4, -1] = True  # touch the volume edge
    spacing = ((1.0, 1.0, 1.0), (0.9, 1.1, 2.0), (1.0, 1.5, 0.8), (3.0, 0.7, 0.7))[seed]
    tau = 2.0
    expected = _deepmind(pred, ref, spacing, tau)
    ours, _ = panel(pred, ref, spacing, surface="surfel", distance_backend=backend, nsd_tolerance_mm=tau)
    assert ours == pytest.approx({k: float(v) for k, v in expected.items()}, rel=1e-6 if backend == "edt" else 1e-9)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_surfel_single_voxels_by_hand() -> None:
    # A lone voxel has 8 border corners (its own, at +-0.5 voxel), each cell holding only that voxel, so all
    # 8 surfels have the same area (a corner triangle, |(1, 1, 1)/8| = sqrt(3)/8 mm² at unit spacing).
    # Voxels 4 apart along axis 0: each corner is 3 (near face) or 4 (far face) from the other's nearest
    # corner.
    ref = box((12, 12, 12), (3, 3, 3), (4, 4, 4))
    pred = box((12, 12, 12), (7, 3, 3), (8, 4, 4))
    values, _ = panel(pred, ref, (1.0, 1.0, 1.0), surface="surfel", nsd_tolerance_mm=3.0)
    # Sorted directed distances 3,3,3,3,4,4,4,4 with equal weights: the first reaching 95% is the 8th -> 4.
    assert values == pytest.approx({"hd95": 4.0, "hd": 4.0, "assd": 3.5, "masd": 3.5, "nsd": 0.5})
    expected = _deepmind(pred, ref, (1.0, 1.0, 1.0), 3.0)
    assert values == pytest.approx({k: float(v) for k, v in expected.items()})
    # The voxel convention on the same pair: single boundary voxels 4 apart.
    voxel, _ = panel(pred, ref, (1.0, 1.0, 1.0))
    assert voxel == pytest.approx({"hd95": 4.0, "hd": 4.0, "assd": 4.0, "masd": 4.0, "nsd": 0.0})


def test_surfel_area_table_equals_deepmind() -> None:
    lt = pytest.importorskip("surface_distance.lookup_tables")
    from robusteval.metrics._surfel_table import NEIGHBOUR_KERNEL, surfel_area_table

    assert np.array_equal(np.array(NEIGHBOUR_KERNEL), lt.ENCODE_NEIGHBOURHOOD_3D_KERNEL)
    for spacing in ((1.0, 1.0, 1.0), (0.9, 1.1, 2.0), (3.0, 0.7, 0.7)):
        assert np.array_equal(surfel_area_table(spacing), lt.create_table_neighbour_code_to_surface_area(spacing))
