"""``nsd`` at exact ties (a boundary distance equal to the tolerance) in every backend and both conventions.

The expected values come from a brute-force count in exact integer arithmetic: spacings and tolerances are
decimal strings, scaled by a common denominator so squared distances are integers compared exactly.
"""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import product

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import ndimage

from robusteval.metrics import MetricConfig, compute_metrics

SURFACES = ["voxel", "surfel"]
BACKENDS = ["edt", "kdtree", "auto"]
Voxels = tuple[tuple[int, int, int], ...]

# (spacing mm, reference voxels, predicted voxels, tolerance mm); every tolerance is an exact grid distance
# between boundary elements in both conventions, unless listed in SURFEL_ONLY.
TIES: list[tuple[tuple[str, str, str], Voxels, Voxels, str]] = [
    (("0.9", "0.9", "3.0"), ((2, 2, 2),), ((4, 2, 2),), "1.8"),  # the issue's example
    (("0.9", "0.9", "3.0"), ((2, 2, 2),), ((2, 2, 4),), "6.0"),
    (("1.2", "1.2", "1.2"), ((2, 2, 2),), ((4, 2, 2),), "2.4"),
    (("1.2", "1.2", "1.2"), ((2, 2, 2),), ((4, 2, 2),), "1.2"),  # the near corners tie (surfel only)
    (("0.1", "0.1", "0.1"), ((2, 2, 2),), ((5, 2, 2),), "0.3"),
    (("0.1", "0.1", "0.1"), ((2, 2, 2),), ((5, 2, 2),), "0.2"),  # surfel only
    (("0.7", "0.3", "1.1"), ((2, 2, 2),), ((2, 2, 5),), "3.3"),
    (("0.6", "0.8", "2.0"), ((2, 2, 2),), ((5, 5, 2),), "3.0"),  # 3-4-5 triangle: 1.8, 2.4 -> 3.0
    (("0.3", "0.4", "1.0"), ((2, 2, 2),), ((3, 3, 2),), "0.5"),
    (("0.35", "0.35", "0.35"), ((2, 2, 2),), ((7, 14, 2),), "4.55"),  # 5-12-13
    (("0.7", "0.7", "0.7"), ((2, 2, 2),), ((39, 2, 2),), "25.9"),  # a long distance (edt's float32)
    (("0.9", "1.1", "2.5"), ((2, 2, 2), (6, 2, 2)), ((2, 4, 2), (9, 2, 3)), "2.2"),
]
SURFEL_ONLY = {3, 5}
CASES = [
    (*case, surface)
    for i, case in enumerate(TIES)
    for surface in SURFACES
    if surface == "surfel" or i not in SURFEL_ONLY
]


def _scale(spacing: tuple[str, str, str], tau: Fraction) -> tuple[NDArray[np.int64], int]:
    """Integer spacings and tolerance after multiplying by the common denominator."""
    fr = [Fraction(s) for s in spacing]
    den = math.lcm(*(f.denominator for f in [*fr, tau]))
    return np.array([int(f * den) for f in fr], dtype=np.int64), int(tau * den)


def _within_count(src: NDArray[np.int64], dst: NDArray[np.int64], k: NDArray[np.int64], t: int) -> tuple[int, int]:
    """(points of ``src`` whose nearest ``dst`` point is within ``t`` (<=), those exactly at ``t``); exact."""
    d2 = (((src[:, None, :] - dst[None, :, :]) * k) ** 2).sum(axis=2).min(axis=1)
    return int(np.count_nonzero(d2 <= t * t)), int(np.count_nonzero(d2 == t * t))


def _voxel_boundary(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Foreground voxels with a 6-neighbour in the background (beyond the edge is background)."""
    interior = ndimage.binary_erosion(mask, border_value=0)
    return np.argwhere(mask & ~interior).astype(np.int64)


def _corners(voxels: Voxels) -> NDArray[np.int64]:
    """The 8 grid corners of each voxel (voxels of one mask must not share a 2x2x2 cell)."""
    return np.array([[v[i] + o[i] for i in range(3)] for v in voxels for o in product((0, 1), repeat=3)])


def _exact_nsd(
    surface: str, spacing: tuple[str, str, str], ref: Voxels, pred: Voxels, tau: Fraction, shape: tuple[int, int, int]
) -> tuple[Fraction, int]:
    """(NSD, number of exact ties). Surfel: isolated voxels only, so every border corner has the same area."""
    k, t = _scale(spacing, tau)
    if surface == "voxel":
        bp, br = _voxel_boundary(_mask(shape, pred)), _voxel_boundary(_mask(shape, ref))
    else:
        bp, br = _corners(pred), _corners(ref)
    (cp, tp), (cr, tr) = _within_count(bp, br, k, t), _within_count(br, bp, k, t)
    return Fraction(cp + cr, len(bp) + len(br)), tp + tr


def _mask(shape: tuple[int, int, int], voxels: Voxels) -> NDArray[np.bool_]:
    m = np.zeros(shape, dtype=bool)
    for v in voxels:
        m[v] = True
    return m


def _nsd(pred: NDArray[np.bool_], ref: NDArray[np.bool_], spacing: tuple[float, ...], **config: object) -> float:
    values, _ = compute_metrics(
        ["nsd"],
        pred,
        ref,
        (spacing[0], spacing[1], spacing[2]),
        config=MetricConfig(**config),  # type: ignore[arg-type]
    )
    return values["nsd"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("spacing", "ref", "pred", "tau", "surface"), CASES)
def test_a_distance_equal_to_the_tolerance_counts(
    spacing: tuple[str, str, str], ref: Voxels, pred: Voxels, tau: str, surface: str, backend: str
) -> None:
    shape = (42, 18, 8)
    p, r = _mask(shape, pred), _mask(shape, ref)
    sp = tuple(float(s) for s in spacing)
    expected, ties = _exact_nsd(surface, spacing, ref, pred, Fraction(tau), shape)
    assert ties > 0  # the case really has a distance equal to tau
    got = _nsd(p, r, sp, nsd_tolerance_mm=float(tau), surface=surface, distance_backend=backend)
    assert got == pytest.approx(float(expected), abs=1e-12)
    # Just below tau the tied elements drop out: the slack is not wider than a tie.
    below = Fraction(tau) * Fraction(9999, 10000)
    expected_below, ties_below = _exact_nsd(surface, spacing, ref, pred, below, shape)
    assert ties_below == 0
    assert expected_below < expected
    got_below = _nsd(p, r, sp, nsd_tolerance_mm=float(below), surface=surface, distance_backend=backend)
    assert got_below == pytest.approx(float(expected_below), abs=1e-12)


def test_the_issue_example_is_one_everywhere() -> None:
    shape = (8, 8, 8)
    ref, pred = _mask(shape, ((2, 2, 2),)), _mask(shape, ((4, 2, 2),))
    for surface, backend in product(SURFACES, BACKENDS):
        assert _nsd(pred, ref, (0.9, 0.9, 3.0), nsd_tolerance_mm=1.8, surface=surface, distance_backend=backend) == 1.0


def _blobs(seed: int, shape: tuple[int, int, int]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    rng = np.random.default_rng(seed)
    ref = ndimage.gaussian_filter(rng.standard_normal(shape), 1.2) > 0.25
    pred = np.roll(ref, 2, axis=seed % 3) | (ndimage.gaussian_filter(rng.standard_normal(shape), 1.0) > 0.45)
    return pred, ref


@pytest.mark.filterwarnings("ignore:.*always_return_as_numpy.*:FutureWarning")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("seed", "spacing", "tau"),
    [(0, ("0.9", "0.9", "3.0"), "1.8"), (1, ("1.2", "1.2", "1.2"), "2.4"), (2, ("0.7", "0.3", "1.1"), "0.6")],
)
def test_voxel_convention_ties_on_random_masks(
    seed: int, spacing: tuple[str, str, str], tau: str, backend: str
) -> None:
    torch = pytest.importorskip("torch")
    from monai.metrics import compute_surface_dice

    pred, ref = _blobs(seed, (14, 16, 12))
    sp = tuple(float(s) for s in spacing)
    k, t = _scale(spacing, Fraction(tau))
    bp, br = _voxel_boundary(pred), _voxel_boundary(ref)
    (cp, tp), (cr, tr) = _within_count(bp, br, k, t), _within_count(br, bp, k, t)
    assert tp + tr > 0  # some boundary distances equal tau exactly
    expected = (cp + cr) / (len(bp) + len(br))
    got = _nsd(pred, ref, sp, nsd_tolerance_mm=float(tau), distance_backend=backend)
    assert got == pytest.approx(expected, abs=1e-12)
    p = torch.from_numpy(pred)[None, None].float()
    r = torch.from_numpy(ref)[None, None].float()
    monai_nsd = compute_surface_dice(p, r, [float(tau)], include_background=True, spacing=list(sp)).item()
    assert got == pytest.approx(monai_nsd, abs=1e-6)
