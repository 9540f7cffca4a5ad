"""Severities are monotone: image quality against the clean image (PSNR) falls with every severity step, and
the label-noise reference moves further from the clean one.

Parameters are drawn with common random numbers (one seed for every severity). Motion is monotone only on
average over draws (the k-space segments move with the number of movements), so it is averaged over four.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from shift_helpers import dice, make_shift, psnr

from robusteval.data.case import Case

# (shift, options, modality measured); motion is averaged over more draws (see the module doc)
INTENSITY = [
    ("motion", {}, "flair"),
    ("ghosting", {}, "flair"),
    ("spike", {}, "flair"),
    ("bias_field", {}, "flair"),
    ("blur", {}, "flair"),
    ("rician_noise", {}, "flair"),
    ("gamma_compress", {}, "flair"),
    ("gamma_expand", {}, "flair"),
    ("anisotropy", {}, "flair"),
    ("missing_modality", {"modality": "t1", "fill": "zero"}, "t1"),
    ("missing_modality", {"modality": "t1", "fill": "noise"}, "t1"),
    ("elastic", {}, "flair"),
    ("affine", {}, "flair"),
]


@pytest.mark.parametrize(("name", "options", "modality"), INTENSITY, ids=[f"{n}-{o}" for n, o, _ in INTENSITY])
def test_psnr_falls_monotonically_with_severity(name: str, options: dict, modality: str, anatomy_case: Case) -> None:  # type: ignore[type-arg]
    """Mean PSNR over the draws strictly decreases from severity 1 to 5 (for most shifts, every draw does)."""
    shift = make_shift(name, **options)
    case = anatomy_case.with_(images={modality: anatomy_case.images[modality]})
    clean = case.images[modality]
    seeds = range(4) if name == "motion" else range(2)

    def score(severity: int, seed: int) -> float:
        return psnr(clean, shift.apply(case, shift.sample(severity, np.random.default_rng(seed))).images[modality])

    table = np.array([[score(s, seed) for s in range(6)] for seed in seeds])
    assert (table[:, 0] == np.inf).all()
    mean = table[:, 1:].mean(axis=0)
    assert all(a > b for a, b in itertools.pairwise(mean)), table
    if name != "motion":
        assert (np.diff(table[:, 1:], axis=1) < 0).all(), table
    assert mean[-1] < 35.0, mean


def test_scanner_table_moves_monotonically_toward_the_profile() -> None:
    shift = make_shift("scanner", profile="C")
    rows = shift.severity_table()
    for key in ("weight", "bias_strength", "gamma"):
        values = [r[key] for r in rows]
        assert values == sorted(values), key
        assert len(set(values)) == 5, key
    scales = [r["intensity_scale"] for r in rows]
    assert scales == sorted(scales, reverse=True)
    assert rows[-1]["intensity_scale"] == 0.25
    assert rows[-1]["gamma"] == 1.25
    assert rows[-1]["bias_strength"] == 0.45
    assert rows[-1]["weight"] == 1.0


def test_scanner_degrades_monotonically(anatomy_case: Case) -> None:
    """Site C at 1.2 x 1.2 x 3 mm on the 4 mm subject: the grid stays, contrast, bias and noise grow."""
    shift = make_shift("scanner", profile="C")
    clean = anatomy_case.images["flair"]
    scores = []
    for s in range(6):
        out = shift.apply(anatomy_case, shift.sample(s, np.random.default_rng(0)))
        assert out.shape == anatomy_case.shape
        # compare in units: undo the documented intensity scale first
        scale = shift.sample(s, np.random.default_rng(0))["intensity_scale"]
        scores.append(psnr(clean, out.images["flair"] / scale))
    assert all(a > b for a, b in itertools.pairwise(scores)), scores


@pytest.mark.parametrize(("name", "sign"), [("label_erode", -1), ("label_dilate", 1)])
def test_boundary_label_noise_grows_monotonically_with_severity(name: str, sign: int, anatomy_case: Case) -> None:
    """With one seed (common random numbers) the eroded reference shrinks and the dilated one grows at every
    severity step, on the synthetic subject at 4 mm (steps of a fraction of a voxel)."""
    shift = make_shift(name)
    for seed in range(2):
        volumes = [int(shift.apply(anatomy_case, shift.sample(s, np.random.default_rng(seed))).label.sum())
                   for s in range(6)]  # fmt: skip
        assert all(sign * (b - a) > 0 for a, b in itertools.pairwise(volumes)), (seed, volumes)


def test_label_elastic_overlap_falls_monotonically_with_severity(anatomy_case: Case) -> None:
    """The elastic warp scales one field with the severity: the overlap with the clean reference falls at every
    step (mean Dice over three draws)."""
    shift = make_shift("label_elastic")
    clean = anatomy_case.label
    table = np.array([[dice(shift.apply(anatomy_case, shift.sample(s, np.random.default_rng(seed))).label, clean)
                       for s in range(6)] for seed in range(3)])  # fmt: skip
    assert (table[:, 0] == 1.0).all()
    mean = table.mean(axis=0)
    assert all(a > b for a, b in itertools.pairwise(mean)), table
