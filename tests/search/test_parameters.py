"""Continuous shift parameters: the table at integer strengths, interpolation between rows, the inverse
map from a physical value, common random numbers, and the ``search:`` block's validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robusteval.data.synthetic import SITES
from robusteval.errors import ProtocolError, RobustEvalError
from robusteval.protocol import load_protocol
from robusteval.search.parameters import (
    default_parameter,
    level_at,
    parameter_info,
    parameters_of,
    shift_at,
    strength_of,
)
from robusteval.shifts import SHIFTS
from robusteval.shifts._common import TabledShift
from robusteval.shifts._label_noise import INTER_RATER_BOUNDARY_MM

ON_OFF = {"flip", "header_mismatch", "permute_axes", "rot90", "swap_modalities"}
SUPPORTED = [n for n in SHIFTS.names() if n not in ON_OFF]


@pytest.mark.parametrize("name", SUPPORTED)
def test_integer_strengths_draw_exactly_the_shifts_own_parameters(name: str) -> None:
    shift = SHIFTS.get(name)()
    for severity in range(6):
        expected = shift.sample(severity, np.random.default_rng(11))
        got = shift_at(name, {}, float(severity)).sample(3, np.random.default_rng(11))  # severity ignored
        assert got == expected, (name, severity)


def test_a_physical_value_sets_every_column_along_the_table() -> None:
    info = parameter_info("motion", "degrees_bound")
    assert strength_of(info, 2.5) == pytest.approx(2.5)
    # halfway between rows 2 (2 deg, 4 mm, 4 movements) and 3 (3 deg, 6 mm, 6 movements)
    row = level_at(SHIFTS.get("motion"), 2.5)  # type: ignore[arg-type]
    assert row == {"degrees_bound": 2.5, "translation_bound_mm": 5.0, "num_transforms": 5}
    # label_erode's boundary distance interpolates between rows 2 and 3 (0.5 and 1.0 inter-rater distances)
    erode = level_at(SHIFTS.get("label_erode"), 2.5)  # type: ignore[arg-type]
    assert erode == {"k_mm": pytest.approx(0.75 * INTER_RATER_BOUNDARY_MM), "correlation_mm": 4.0}
    assert level_at(SHIFTS.get("label_add_spurious"), 2.5) == {"count": 5}  # type: ignore[arg-type]  # half up
    # a positive strength never rounds a count back to the identity: 0.2 movements -> 1
    tiny = level_at(SHIFTS.get("motion"), 0.1)  # type: ignore[arg-type]
    assert tiny == {"degrees_bound": 0.1, "translation_bound_mm": 0.2, "num_transforms": 1}
    assert level_at(SHIFTS.get("label_add_spurious"), 0.1) == {"count": 1}  # type: ignore[arg-type]
    # gamma_compress decreases: 0.72 at severity 2, 0.58 at 3
    assert strength_of(parameter_info("gamma_compress", "gamma"), 0.65) == pytest.approx(2.5)
    assert default_parameter("gamma_compress") == "gamma"


def test_scanner_takes_its_weight() -> None:
    info = parameter_info("scanner", "weight")
    assert strength_of(info, 0.3) == pytest.approx(1.5)
    params = shift_at("scanner", {"profile": "B"}, 1.5).sample(5, np.random.default_rng(0))
    assert params["weight"] == pytest.approx(0.3)
    assert params["gamma"] == pytest.approx(1 + 0.3 * (SITES["B"].gamma - 1))


def test_one_seed_gives_the_same_draws_scaled_by_the_level() -> None:
    half = shift_at("motion", {}, 2.5).sample(0, np.random.default_rng(4))
    full = shift_at("motion", {}, 5.0).sample(0, np.random.default_rng(4))
    assert len(half["degrees"]) == 5
    assert len(full["degrees"]) == 10
    np.testing.assert_allclose(np.array(half["degrees"]), np.array(full["degrees"])[:5] / 2, atol=1e-6)
    a = shift_at("bias_field", {}, 1.0).sample(0, np.random.default_rng(9))["coefficients"]
    b = shift_at("bias_field", {}, 4.0).sample(0, np.random.default_rng(9))["coefficients"]
    np.testing.assert_allclose(np.array(b), 4 * np.array(a), atol=1e-5)


def test_what_cannot_be_searched_says_so() -> None:
    with pytest.raises(RobustEvalError, match="on/off operation"):
        parameters_of("flip")
    assert list(parameters_of("spike")) == ["severity"]  # neither spike column grows strictly
    with pytest.raises(RobustEvalError, match="known: severity, degrees_bound"):
        parameter_info("motion", "speed")
    with pytest.raises(RobustEvalError, match=r"outside its documented range \[0.0, 5.0\]"):
        strength_of(parameter_info("motion", "degrees_bound"), 6.0)
    assert all(issubclass(SHIFTS.get(n), TabledShift) or n == "scanner" for n in SUPPORTED)


BASE = """
name: s
models: [{name: unet, family: cnn, adapter: zoo, params: {entry: unet}}]
search:
"""


@pytest.mark.parametrize(
    ("block", "where", "message"),
    [
        ("  worst_case: {space: [{shift: motion, range: [0, 7]}]}", "search.worst_case.space[0]",
         "leaves its documented range [0.0, 5.0]"),
        ("  breaking_point: {shifts: [{shift: motion, range: [1, 3]}]}", "search.breaking_point",
         "must start at the identity value 0.0"),
        ("  worst_case: {space: [{shift: flip}]}", "search.worst_case.space[0]", "on/off operation"),
        ("  worst_case: {space: [{shift: blur}, {shift: blur}]}", "search.worst_case.space", "once"),
        ("  objective: {kind: fraction_failed}\n  worst_case: {space: [{shift: blur}]}", "search.objective",
         "case_threshold"),
        ("  objective: {cases: 2}", "search", "give 'breaking_point', 'worst_case' or both"),
    ],
)  # fmt: skip
def test_invalid_search_blocks_name_the_field(tmp_path: Path, block: str, where: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BASE + block + "\n")
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    issues = info.value.issues
    assert any(i.field == where and message in i.message for i in issues), [str(i) for i in issues]


def test_the_example_protocol_is_valid() -> None:
    protocol = load_protocol(Path(__file__).resolve().parents[2] / "protocols" / "search.yaml")
    assert protocol.search is not None
    assert protocol.search.breaking_point is not None
    assert protocol.search.worst_case is not None


def test_models_without_predictions_off_the_protocols_conditions_are_not_searched(tmp_path: Path) -> None:
    """A ``predictions`` model (files for the protocol's conditions only) and the human baseline would give an
    unavailable row at every searched point: left out by default, refused when named (never scored as failed)."""
    from robusteval.search.runner import _models

    path = tmp_path / "p.yaml"
    path.write_text(
        "name: s\nmodels:\n  - {name: unet, family: cnn, adapter: zoo, params: {entry: unet}}\n"
        "  - {name: lst, family: external, adapter: predictions, params: {mask: 'p/{condition}/{case_id}.nii'}}\n"
        "  - {name: r2, family: human, adapter: rater}\nsearch:\n  worst_case: {space: [{shift: blur}]}\n"
    )
    protocol = load_protocol(path)
    assert protocol.search is not None
    assert [m.name for m in _models(protocol, protocol.search)] == ["unet"]
    named = protocol.search.model_copy(update={"models": ["unet", "lst"]})
    with pytest.raises(RobustEvalError, match=r"search\.models: \['lst'\] read precomputed files"):
        _models(protocol, named)
