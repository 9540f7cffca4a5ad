"""Label-noise shifts change only the reference, exactly as documented (checked against scipy/cc3d)."""

from __future__ import annotations

import itertools

import cc3d
import numpy as np
import pytest
from scipy import ndimage
from shift_helpers import LESIONS, ball, dice, make_shift

from robusteval.data.case import Case
from robusteval.shifts.base import Touches


def ball_structure(k: int) -> np.ndarray:
    return ball((2 * k + 1,) * 3, (k, k, k), float(k))


@pytest.mark.parametrize("severity", [1, 2, 3])
def test_erode_equals_binary_erosion_with_a_ball(severity: int, phantom_case: Case) -> None:
    shift = make_shift("label_erode")
    out = shift.apply(phantom_case, shift.sample(severity, np.random.default_rng(0)))
    expected = ndimage.binary_erosion(phantom_case.label, ball_structure(severity), border_value=1)
    np.testing.assert_array_equal(out.label, expected)
    assert out.label.sum() < phantom_case.label.sum()


@pytest.mark.parametrize("severity", [1, 2, 3])
def test_dilate_equals_binary_dilation_with_a_ball(severity: int, phantom_case: Case) -> None:
    shift = make_shift("label_dilate")
    out = shift.apply(phantom_case, shift.sample(severity, np.random.default_rng(0)))
    expected = ndimage.binary_dilation(phantom_case.label, ball_structure(severity))
    np.testing.assert_array_equal(out.label, expected)


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


def test_label_elastic_keeps_volume_and_perturbs_the_boundary(phantom_case: Case) -> None:
    shift = make_shift("label_elastic")
    previous = 1.0
    for severity in (1, 3, 5):
        scores = []
        for seed in range(3):
            out = shift.apply(phantom_case, shift.sample(severity, np.random.default_rng(seed)))
            assert 0.5 * phantom_case.label.sum() < out.label.sum() < 1.5 * phantom_case.label.sum()
            scores.append(dice(out.label, phantom_case.label))
        mean = float(np.mean(scores))
        assert mean < previous
        previous = mean
    assert previous < 0.8


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
