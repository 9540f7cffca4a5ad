"""Every registered shift works on read-only arrays and never writes to its input.

On a Ray cluster a case comes out of the object store zero-copy: every array (images, label, ignore,
annotations, affine) is a read-only view of an immutable buffer. ``setflags(write=False)`` makes an owned array
read-only instead; the Cython kernels (``edt``, ``cc3d``) refuse both kinds of buffer unless given a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from shift_helpers import assert_same_case, digest, make_shift

from robusteval.data.case import Case
from robusteval.shifts import SHIFTS
from tests.read_only import READ_ONLY


def _with_annotation(case: Case, *, to_edge: bool) -> Case:
    """The phantom with a second rater; ``to_edge``: lesions also touch the array's corners, so a shift's crop
    around the label is the whole (contiguous, still read-only) array."""
    assert case.ignore is not None
    label = case.label.copy()
    if to_edge:
        label[:3, :, :3] = True
        label[-3:, -3:, -3:] = True
    return case.with_(label=label, annotations={"rater2": np.roll(label, 1, axis=0)})


def _frozen(case: Case, read_only: Callable[[NDArray[Any]], NDArray[Any]]) -> Case:
    assert case.ignore is not None
    return case.with_(
        images={m: read_only(img) for m, img in case.images.items()},
        label=read_only(case.label),
        ignore=read_only(case.ignore),
        annotations={r: read_only(a) for r, a in case.annotations.items()},
        affine=read_only(case.affine),
    )


@pytest.mark.parametrize("to_edge", [False, True], ids=["phantom", "label-at-edges"])
@pytest.mark.parametrize("style", sorted(READ_ONLY))
@pytest.mark.parametrize("name", SHIFTS.names())
def test_shift_accepts_read_only_arrays_and_leaves_them_unchanged(
    name: str, style: str, to_edge: bool, phantom_ignore: Case
) -> None:
    writable = _with_annotation(phantom_ignore, to_edge=to_edge)
    frozen = _frozen(writable, READ_ONLY[style])
    assert not frozen.label.flags.writeable
    before = digest(frozen)
    shift = make_shift(name)
    for severity in (1, 5):
        params = shift.sample(severity, np.random.default_rng(severity))
        out = shift.apply(frozen, params)
        assert digest(frozen) == before  # the input is unchanged
        np.testing.assert_array_equal(frozen.annotations["rater2"], writable.annotations["rater2"])
        expected = shift.apply(writable, params)  # the result is the writable input's
        assert_same_case(out, expected)
        np.testing.assert_array_equal(out.annotations["rater2"], expected.annotations["rater2"])
