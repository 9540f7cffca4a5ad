"""The contract every registered shift keeps: registry metadata, the documented severity table, JSON-able
parameters, severity 0 as the exact identity, deterministic replay, and what each family may touch."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from shift_helpers import assert_same_case, make_shift

from robusteval.data.case import Case
from robusteval.shifts import SHIFTS, Touches

FAMILIES = {"artifact", "scanner", "label_noise", "modality", "orientation"}
ALL = SHIFTS.names()
EXPECTED = {
    "affine", "anisotropy", "bias_field", "blur", "elastic", "flip", "gamma_compress", "gamma_expand", "ghosting",
    "header_mismatch", "label_add_spurious", "label_dilate", "label_drop_small", "label_elastic", "label_erode",
    "missing_modality", "motion", "permute_axes", "rician_noise", "rot90", "scanner", "spike", "swap_modalities",
}  # fmt: skip


def test_every_family_and_shift_is_registered() -> None:
    assert set(ALL) == EXPECTED
    assert {SHIFTS.get(n).family for n in ALL} == FAMILIES


@pytest.mark.parametrize("name", ALL)
def test_registry_metadata(name: str) -> None:
    cls = SHIFTS.get(name)
    assert cls.name == name
    assert cls.family in FAMILIES
    assert isinstance(cls.touches, Touches)
    assert cls.doc.strip()
    assert "\n" not in cls.doc
    assert len(cls.doc) <= 110
    assert cls.max_severity == 5
    if cls.family == "label_noise":
        assert cls.touches is Touches.LABEL
    if cls.family == "orientation":
        assert cls.touches is Touches.IMAGE_AND_LABEL


def _params_tree_is_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _params_tree_is_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_params_tree_is_json(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


@pytest.mark.parametrize("name", ALL)
def test_params_equal_the_documented_table_at_every_severity(name: str) -> None:
    shift = make_shift(name)
    table = shift.severity_table()
    assert [row["severity"] for row in table] == [1, 2, 3, 4, 5]
    for row in table:
        for seed in (0, 1):
            params = shift.sample(row["severity"], np.random.default_rng(seed))
            assert _params_tree_is_json(params), params
            assert json.loads(json.dumps(params)) == params
            for key, value in row.items():
                if key != "severity":
                    assert params[key] == value, (name, row["severity"], key)


@pytest.mark.parametrize("name", ALL)
def test_severity_out_of_range_is_rejected(name: str) -> None:
    shift = make_shift(name)
    for bad in (-1, 6):
        with pytest.raises(ValueError, match=f"severity {bad}"):
            shift.sample(bad, np.random.default_rng(0))


@pytest.mark.parametrize("name", ALL)
def test_severity_zero_is_the_exact_identity(name: str, phantom_ignore: Case) -> None:
    shift = make_shift(name)
    params = shift.sample(0, np.random.default_rng(7))
    out = shift.apply(phantom_ignore, json.loads(json.dumps(params)))
    assert_same_case(out, phantom_ignore)


@pytest.mark.parametrize("name", ALL)
def test_replaying_recorded_params_is_bit_identical(name: str, phantom_ignore: Case) -> None:
    shift = make_shift(name)
    params = shift.sample(3, np.random.default_rng(11))
    first = shift.apply(phantom_ignore, json.loads(json.dumps(params)))
    again = make_shift(name).apply(phantom_ignore, json.loads(json.dumps(params)))
    assert_same_case(first, again)
    # the same seed gives the same parameters
    assert make_shift(name).sample(3, np.random.default_rng(11)) == params


@pytest.mark.parametrize("name", ALL)
def test_shift_changes_only_what_it_declares(name: str, phantom_ignore: Case) -> None:
    shift = make_shift(name)
    case = phantom_ignore
    out = shift.apply(case, shift.sample(5, np.random.default_rng(3)))
    assert set(out.images) == set(case.images)
    for img in out.images.values():
        assert img.dtype == np.float32
        assert img.shape == out.shape
        assert np.isfinite(img).all()
    assert out.label.dtype == np.bool_
    assert out.ignore is not None
    assert out.ignore.shape == out.shape
    assert out.affine.shape == (4, 4)
    changed_images = out.shape != case.shape or any(
        not np.array_equal(out.images[m], case.images[m]) for m in case.images
    )
    changed_label = out.shape != case.shape or not np.array_equal(out.label, case.label)
    if shift.touches is Touches.LABEL:
        assert not changed_images
        assert changed_label
        assert all(out.images[m] is case.images[m] for m in case.images)
        np.testing.assert_array_equal(out.affine, case.affine)
        assert out.ignore is case.ignore
    elif shift.touches is Touches.IMAGE:
        assert changed_images
        assert not changed_label
        np.testing.assert_array_equal(out.affine, case.affine)
        assert out.label is case.label
        assert out.ignore is case.ignore
    else:
        assert changed_images
        assert changed_label
