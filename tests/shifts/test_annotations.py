"""Other raters' annotations (``Case.annotations``) stay consistent with the case: a spatial shift moves each
one exactly as it moves the label; label noise and image artifacts leave them untouched."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import ndimage
from shift_helpers import ball, make_shift

from robusteval.data.case import Case
from robusteval.shifts import SHIFTS, Touches

SPATIAL = [n for n in SHIFTS.names() if SHIFTS.get(n).touches is Touches.IMAGE_AND_LABEL]
UNMOVED = [n for n in SHIFTS.names() if SHIFTS.get(n).touches is not Touches.IMAGE_AND_LABEL]


def annotated(case: Case) -> Case:
    """``case`` with a rater-2 annotation unlike its label: the label dilated once plus a blob of its own."""
    rater2 = ndimage.binary_dilation(case.label, iterations=1) | ball(case.shape, (12, 30, 22), 2.5)
    return case.with_(annotations={"rater2": rater2})


@pytest.mark.parametrize(
    ("name", "options"),
    [(n, {}) for n in SPATIAL] + [("elastic", {"backend": "torch", "device": "cpu"})],
)
def test_spatial_shifts_move_an_annotation_as_they_move_the_label(
    name: str, options: dict[str, Any], phantom_ignore: Case
) -> None:
    case = annotated(phantom_ignore)
    rater2 = case.annotations["rater2"]
    shift = make_shift(name, **options)
    params = shift.sample(3, np.random.default_rng(3))
    out = shift.apply(case, params)
    as_label = shift.apply(case.with_(label=rater2, annotations={}), params)  # the annotation as the reference
    np.testing.assert_array_equal(out.annotations["rater2"], as_label.label)
    assert out.annotations["rater2"].dtype == np.bool_
    assert out.annotations["rater2"].shape == out.label.shape
    moved = out.annotations["rater2"].shape != rater2.shape or not np.array_equal(out.annotations["rater2"], rater2)
    assert moved


def test_flip_mirrors_the_annotation_with_the_label(phantom_case: Case) -> None:
    case = annotated(phantom_case)
    shift = make_shift("flip", axis=0)
    out = shift.apply(case, shift.sample(1, np.random.default_rng(0)))
    np.testing.assert_array_equal(out.label, case.label[::-1])
    np.testing.assert_array_equal(out.annotations["rater2"], case.annotations["rater2"][::-1])


@pytest.mark.parametrize("name", UNMOVED)
def test_label_noise_and_image_shifts_leave_annotations_untouched(name: str, phantom_case: Case) -> None:
    case = annotated(phantom_case)
    shift = make_shift(name)
    out = shift.apply(case, shift.sample(4, np.random.default_rng(4)))
    np.testing.assert_array_equal(out.annotations["rater2"], case.annotations["rater2"])
    if shift.touches is Touches.LABEL:
        assert not np.array_equal(out.label, case.label)  # the reference changed, the second rater did not
