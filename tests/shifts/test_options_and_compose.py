"""Invalid options are rejected with a message naming the argument; conditions apply steps in order."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from shift_helpers import assert_same_case, make_shift

from robusteval.data.case import Case
from robusteval.errors import CaseError, RobustEvalError
from robusteval.shifts import SHIFTS, Condition, ShiftOptionError, apply_condition, sample_condition

BAD_OPTIONS = [
    ("scanner", {"profile": "D"}, "'profile' must be one of 'A', 'B', 'C'"),
    ("scanner", {"profil": "A"}, "unknown option(s) ['profil']; allowed options: profile"),
    ("ghosting", {"axes": [0, 3]}, "'axes' must be an integer in 0..2"),
    ("ghosting", {"axes": []}, "'axes' must be a non-empty list"),
    ("anisotropy", {"axes": "z"}, "'axes' must be a non-empty list"),
    ("missing_modality", {"fill": "zeros"}, "'fill' must be one of 'zero', 'noise'"),
    ("missing_modality", {"modality": ""}, "'modality' must be a modality name"),
    ("swap_modalities", {"a": "t1", "b": "t1"}, "'a' and 'b' must differ"),
    ("flip", {"axis": 3}, "'axis' must be an integer in 0..2"),
    ("flip", {"axis": True}, "'axis' must be an integer in 0..2"),
    ("permute_axes", {"order": [0, 1, 2]}, "'order' must not be the identity"),
    ("permute_axes", {"order": [0, 0, 1]}, "'order' must be a list of 3 distinct axes"),
    ("rot90", {"k": 4}, "'k' must be an integer in 1..3"),
    ("rot90", {"axes": [1]}, "'axes' must be a list of 2 distinct axes"),
    ("header_mismatch", {"axes": [0, 0]}, "'axes' must be a list of 1 to 3 distinct axes"),
    ("motion", {"backend": "sitk"}, "'backend' must be one of 'torchio', 'torch'"),
    ("elastic", {"device": "gpu"}, "'device' must be one of 'auto', 'cpu', 'cuda'"),
    ("bias_field", {"order": 4}, "unknown option(s) ['order']"),
    ("blur", {"std_mm": 2.0}, "takes no options"),
]


@pytest.mark.parametrize(("name", "options", "message"), BAD_OPTIONS)
def test_invalid_options_name_the_argument(name: str, options: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises((ShiftOptionError, TypeError)) as info:
        make_shift(name, **options)
    assert message in str(info.value)
    assert name in str(info.value)
    if isinstance(info.value, ShiftOptionError):
        assert isinstance(info.value, RobustEvalError)
        assert isinstance(info.value, ValueError)


def test_every_shift_builds_with_its_defaults() -> None:
    for name in SHIFTS.names():
        assert make_shift(name).name == name


def test_missing_modality_on_a_case_without_it_is_a_case_error(phantom_case: Case) -> None:
    shift = make_shift("missing_modality", modality="dwi")
    with pytest.raises(CaseError, match="no modality 'dwi'"):
        shift.apply(phantom_case, shift.sample(3, np.random.default_rng(0)))
    swap = make_shift("swap_modalities", a="flair", b="dwi")
    with pytest.raises(CaseError, match="dwi"):
        swap.apply(phantom_case, swap.sample(3, np.random.default_rng(0)))


def test_missing_modality_blends_only_its_modality(phantom_case: Case) -> None:
    shift = make_shift("missing_modality", modality="t1", fill="zero")
    for severity in range(1, 6):
        out = shift.apply(phantom_case, shift.sample(severity, np.random.default_rng(0)))
        np.testing.assert_allclose(out.images["t1"], (1 - 0.2 * severity) * phantom_case.images["t1"], rtol=1e-6)
        assert out.images["flair"] is phantom_case.images["flair"]
    noise = make_shift("missing_modality", modality="t1", fill="noise")
    out = noise.apply(phantom_case, noise.sample(5, np.random.default_rng(0)))
    t1 = phantom_case.images["t1"]
    assert abs(float(np.corrcoef(out.images["t1"].ravel(), t1.ravel())[0, 1])) < 0.05  # no structure left
    # N(mean, std) clipped at 0: its mean is mu Phi(mu / sigma) + sigma phi(mu / sigma)
    mu, sigma = float(t1.mean()), float(t1.std())
    expected = mu * norm.cdf(mu / sigma) + sigma * norm.pdf(mu / sigma)
    assert float(out.images["t1"].mean()) == pytest.approx(expected, rel=0.02)
    assert float(out.images["t1"].min()) == 0.0


def test_swap_modalities_trades_the_arrays(phantom_case: Case) -> None:
    shift = make_shift("swap_modalities")
    out = shift.apply(phantom_case, shift.sample(2, np.random.default_rng(0)))
    assert out.images["flair"] is phantom_case.images["t1"]
    assert out.images["t1"] is phantom_case.images["flair"]


def test_composition_applies_steps_in_the_listed_order(phantom_case: Case) -> None:
    forward = Condition.build("fw", [("gamma_expand", {}, None), ("rician_noise", {}, None)])
    backward = Condition.build("bw", [("rician_noise", {}, None), ("gamma_expand", {}, None)])
    params = sample_condition(forward, 3, 99)
    out = apply_condition(phantom_case, forward, params)
    gamma, noise = make_shift("gamma_expand"), make_shift("rician_noise")
    expected = noise.apply(gamma.apply(phantom_case, params[0]), params[1])
    assert_same_case(out, expected)
    swapped = apply_condition(phantom_case, backward, [params[1], params[0]])
    assert not np.array_equal(swapped.images["flair"], out.images["flair"])
    assert float(np.abs(swapped.images["flair"] - out.images["flair"]).max()) > 1.0


def test_composition_of_spatial_and_label_noise_steps(phantom_case: Case) -> None:
    """flip then dilate equals dilate then flip (dilation commutes with a flip: its dithering field is a
    function of world position, which the flip keeps), and both differ from the clean case."""
    a = Condition.build("a", [("flip", {"axis": 0}, None), ("label_dilate", {}, 2)])
    b = Condition.build("b", [("label_dilate", {}, 2), ("flip", {"axis": 0}, None)])
    pa, pb = sample_condition(a, 4, 1), sample_condition(b, 4, 1)
    level = make_shift("label_dilate").severity_table()[1]
    assert pa[1]["k_mm"] == pb[0]["k_mm"] == level["k_mm"]
    pb[0]["seed"] = pa[1]["seed"]  # the dithering field lives in world mm: the same field before or after the flip
    out_a, out_b = apply_condition(phantom_case, a, pa), apply_condition(phantom_case, b, pb)
    assert_same_case(out_a, out_b)
    assert out_a.label.sum() > phantom_case.label.sum()
    # a non-commuting pair: erosion then dilation differs from dilation then erosion
    opening = Condition.build("o", [("label_erode", {}, None), ("label_dilate", {}, None)])
    closing = Condition.build("c", [("label_dilate", {}, None), ("label_erode", {}, None)])
    po = sample_condition(opening, 5, 0)
    pc = [po[1], po[0]]  # the same two steps, swapped
    lab_o = apply_condition(phantom_case, opening, po).label
    lab_c = apply_condition(phantom_case, closing, pc).label
    assert not np.array_equal(lab_o, lab_c)
